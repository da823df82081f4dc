//! Request extractors whose rejections are JSON 4xx answers, not axum's
//! plain-text ones.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiResult};
use super::objects::parse_time;
use trackd_model::Timestamp;

/// A JSON body; malformed JSON or wrong types are a 400 naming the problem.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::bad(rejection.body_text())),
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`).
pub(crate) struct ApiForm<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(ApiForm(value)),
            Err(rejection) => Err(ApiError::bad(rejection.body_text())),
        }
    }
}

/// A numeric path id.
pub(crate) struct PathId(pub(crate) i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        match axum::extract::Path::<i64>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(PathId(id)),
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
    pub(crate) fn ids(&self, key: &str) -> ApiResult<Vec<i64>> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::bad(format!("{key}: {v:?} is not an integer id")))
            })
            .collect()
    }

    /// One optional id.
    pub(crate) fn id(&self, key: &str) -> ApiResult<Option<i64>> {
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
