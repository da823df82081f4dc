//! Request extractors whose rejections are JSON 4xx answers, not axum's
//! plain-text ones.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiResult};
use super::objects::parse_time;
use trackd_model::Timestamp;

/// The one answer to a NUL character in any text the API is given: no
/// client needs one, and PostgreSQL cannot store one (it answered 500).
pub(crate) fn reject_nul(what: &str, text: &str) -> ApiResult<()> {
    if text.contains('\0') {
        return Err(ApiError::bad(format!(
            "{what}: NUL characters are not allowed"
        )));
    }
    Ok(())
}

/// Whether any string (or key) of a JSON value holds a NUL.
fn json_has_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || json_has_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Whether a JSON text holds a NUL in a string: a raw NUL is not valid JSON
/// (the parser refuses it), so only the escape `\u0000` can make one.
fn json_text_has_nul(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|window| window == b"\\u0000")
        && serde_json::from_slice::<serde_json::Value>(bytes)
            .is_ok_and(|value| json_has_nul(&value))
}

/// Whether a form body holds a NUL in a key or value (`%00` or raw).
fn form_has_nul(bytes: &[u8]) -> bool {
    form_urlencoded::parse(bytes).any(|(key, value)| key.contains('\0') || value.contains('\0'))
}

/// Reads the body (within the body limit), refuses it with a 400 if
/// `has_nul`, and gives the request back with the same body for the real
/// extractor, so its checks and messages are unchanged.
async fn checked_body<S: Send + Sync>(
    req: Request,
    state: &S,
    has_nul: fn(&[u8]) -> bool,
) -> ApiResult<Request> {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|rejection| ApiError::bad(rejection.body_text()))?;
    if has_nul(&bytes) {
        return Err(ApiError::bad("body: NUL characters are not allowed"));
    }
    let mut rebuilt = Request::new(axum::body::Body::from(bytes));
    *rebuilt.method_mut() = method;
    *rebuilt.uri_mut() = uri;
    *rebuilt.headers_mut() = headers;
    Ok(rebuilt)
}

/// A JSON body; malformed JSON, wrong types or a NUL in a string are a 400
/// naming the problem.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let req = checked_body(req, state, json_text_has_nul).await?;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::bad(rejection.body_text())),
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`); a NUL is a 400.
pub(crate) struct ApiForm<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let req = checked_body(req, state, form_has_nul).await?;
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(ApiForm(value)),
            Err(rejection) => Err(ApiError::bad(rejection.body_text())),
        }
    }
}

/// Whether a query string holds a NUL in a key or value.
pub(crate) fn query_has_nul(query: &str) -> bool {
    form_has_nul(query.as_bytes())
}

/// A numeric path id, typed (`PathId<DeviceId>`).
pub(crate) struct PathId<T>(pub(crate) T);

impl<S: Send + Sync, T: From<i64>> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        match axum::extract::Path::<i64>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(PathId(T::from(id))),
            Err(_) => Err(ApiError::bad("id in the path must be an integer")),
        }
    }
}

/// The query string as ordered pairs; repeated keys (`deviceId=1&deviceId=2`)
/// are kept, as Traccar's report endpoints need.
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Params(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl Params {
    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, parsed as ids.
    pub(crate) fn ids<T: From<i64>>(&self, key: &str) -> ApiResult<Vec<T>> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| {
                v.trim()
                    .parse::<i64>()
                    .map(T::from)
                    .map_err(|_| ApiError::bad(format!("{key}: {v:?} is not an integer id")))
            })
            .collect()
    }

    /// One optional id.
    pub(crate) fn id<T: From<i64>>(&self, key: &str) -> ApiResult<Option<T>> {
        Ok(self.ids(key)?.into_iter().next())
    }

    /// An optional boolean flag (`true`/`false`).
    pub(crate) fn flag(&self, key: &str) -> ApiResult<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::bad(format!("{key}: {v:?} is not true or false"))),
        }
    }

    /// An optional integer, Java `int`-sized like Traccar's query parameters.
    fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse::<i32>()
                    .map(i64::from)
                    .map_err(|_| ApiError::bad(format!("{key}: {v:?} is not an integer")))
            })
            .transpose()
    }

    /// The `limit`/`offset` window of a list request (see [`Page`]).
    pub(crate) fn page(&self) -> ApiResult<Page> {
        let limit = self.int("limit")?.unwrap_or(0);
        let offset = self.int("offset")?.unwrap_or(0);
        if limit <= 0 {
            return Ok(Page::ALL);
        }
        Ok(Page {
            limit: usize::try_from(limit).ok(),
            offset: usize::try_from(offset).unwrap_or(0),
        })
    }

    /// The `keyword` search term, lowercased; `None` when absent or empty.
    pub(crate) fn keyword(&self) -> Option<String> {
        self.get("keyword")
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_lowercase)
    }

    /// An optional instant.
    pub(crate) fn time(&self, key: &str) -> ApiResult<Option<Timestamp>> {
        self.get(key).map(|v| parse_time(key, v)).transpose()
    }

    /// A required `from`/`to` range, validated.
    pub(crate) fn range(&self) -> ApiResult<(Timestamp, Timestamp)> {
        let from = self
            .time("from")?
            .ok_or_else(|| ApiError::bad("from is required"))?;
        let to = self
            .time("to")?
            .ok_or_else(|| ApiError::bad("to is required"))?;
        if from > to {
            return Err(ApiError::bad("from is after to"));
        }
        Ok((from, to))
    }
}

/// A window over a list, as Traccar reads `limit` and `offset`: a `limit` of
/// 0 or less (or none) means everything, and `offset` counts only when
/// there is a limit (Traccar adds `OFFSET` to its SQL only after `LIMIT`).
/// Callers sort first, by a total order, so that consecutive pages neither
/// repeat nor skip rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Page {
    /// Most items to return; `None` is unlimited.
    pub(crate) limit: Option<usize>,
    /// Items to skip first.
    pub(crate) offset: usize,
}

impl Page {
    /// No window: every item.
    pub(crate) const ALL: Page = Page {
        limit: None,
        offset: 0,
    };

    /// The items of this page, in the order given.
    pub(crate) fn window<I: IntoIterator>(self, items: I) -> impl Iterator<Item = I::Item> {
        items
            .into_iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
    }
}

/// Whether any of `fields` contains the lowercased `keyword`, ignoring case
/// (Traccar's `keyword` search); true when there is no keyword.
pub(crate) fn matches_keyword<'a>(
    keyword: Option<&str>,
    fields: impl IntoIterator<Item = Option<&'a str>>,
) -> bool {
    let Some(keyword) = keyword else {
        return true;
    };
    fields
        .into_iter()
        .flatten()
        .any(|field| field.to_lowercase().contains(keyword))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn params(query: &str) -> Params {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn page_of(query: &str) -> Vec<i32> {
        params(query).page().unwrap().window(1..=10).collect()
    }

    #[test]
    fn page_follows_traccar_limit_and_offset() {
        assert_eq!(page_of(""), (1..=10).collect::<Vec<_>>());
        assert_eq!(page_of("limit=3"), vec![1, 2, 3]);
        assert_eq!(page_of("limit=3&offset=3"), vec![4, 5, 6]);
        assert_eq!(page_of("limit=3&offset=9"), vec![10]);
        assert_eq!(page_of("limit=3&offset=10"), Vec::<i32>::new());
        assert_eq!(page_of("offset=5"), (1..=10).collect::<Vec<_>>());
        assert_eq!(page_of("limit=0&offset=5"), (1..=10).collect::<Vec<_>>());
        assert_eq!(page_of("limit=-1"), (1..=10).collect::<Vec<_>>());
        assert_eq!(page_of("limit=2&offset=-4"), vec![1, 2]);
    }

    #[test]
    fn page_rejects_non_integers_naming_the_parameter() {
        let err = params("limit=ten").page().unwrap_err().to_string();
        assert_eq!(err, "limit: \"ten\" is not an integer");
        let err = params("limit=5&offset=1.5").page().unwrap_err().to_string();
        assert_eq!(err, "offset: \"1.5\" is not an integer");
        assert!(params("limit=99999999999").page().is_err());
    }

    #[test]
    fn nul_is_found_in_json_strings_keys_forms_and_queries_only() {
        assert!(json_text_has_nul(br#"{"email":"a\u0000b"}"#));
        assert!(json_text_has_nul(br#"{"attributes":{"k\u0000":1}}"#));
        assert!(json_text_has_nul(br#"[["\u0000"]]"#));
        // An escaped backslash followed by "u0000" is no NUL.
        assert!(!json_text_has_nul(br#"{"email":"a\\u0000b"}"#));
        assert!(!json_text_has_nul(br#"{"email":"plain"}"#));
        assert!(form_has_nul(b"email=a%00b&password=x"));
        assert!(form_has_nul(b"email%00=a"));
        assert!(form_has_nul(b"email=a\0b"));
        assert!(!form_has_nul(b"email=a%2500b"));
        assert!(query_has_nul("keyword=%00"));
        assert!(!query_has_nul("keyword=0"));
        assert!(reject_nul("email", "a\0").is_err());
        assert!(reject_nul("email", "a").is_ok());
    }

    #[test]
    fn keyword_matches_any_field_ignoring_case() {
        let keyword = params("keyword=TRuck").keyword();
        assert_eq!(keyword.as_deref(), Some("truck"));
        assert!(matches_keyword(
            keyword.as_deref(),
            [None, Some("Big Truck 7")]
        ));
        assert!(!matches_keyword(keyword.as_deref(), [Some("van"), None]));
        assert_eq!(params("keyword=").keyword(), None);
        assert!(matches_keyword(None, [Some("van")]));
    }
}
