//! Just enough HTTP/1.1 for a keep-alive client: one request at a time,
//! responses framed by `Content-Length` or chunked encoding.

/// A parsed response at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    /// Bytes the response took, head and body.
    pub(crate) len: usize,
    /// The status code.
    pub(crate) status: u16,
    /// The body (chunks joined).
    pub(crate) body: Vec<u8>,
    /// The server will close the connection after this response.
    pub(crate) close: bool,
}

/// Why a response cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum HttpError {
    /// The status line or a header is malformed.
    #[error("malformed http response: {0}")]
    Malformed(&'static str),
    /// The head or body is larger than any answer of an ingest route.
    #[error("http response larger than {0} bytes")]
    TooLarge(usize),
}

/// Heads and bodies of ingest answers are small.
const MAX_RESPONSE: usize = 64 * 1024;

/// Parses one response from `buf`: `Ok(None)` means more bytes are needed.
pub(crate) fn parse_response(buf: &[u8]) -> Result<Option<Response>, HttpError> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_RESPONSE {
            Err(HttpError::TooLarge(MAX_RESPONSE))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| HttpError::Malformed("head is not utf-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("status line"));
    }
    let status: u16 = parts
        .next()
        .and_then(|code| code.parse().ok())
        .ok_or(HttpError::Malformed("status code"))?;
    let mut content_length = None;
    let mut chunked = false;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(HttpError::Malformed("header line"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length: usize = value
                .parse()
                .map_err(|_| HttpError::Malformed("content-length"))?;
            if length > MAX_RESPONSE {
                return Err(HttpError::TooLarge(MAX_RESPONSE));
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let body_start = head_end + 4;
    let rest = &buf[body_start..];
    let (body, body_len) = if chunked {
        match dechunk(rest)? {
            Some(done) => done,
            None => return Ok(None),
        }
    } else {
        // No length on a keep-alive answer means no body (1xx, 204, 304 or a bare 200).
        let length = content_length.unwrap_or(0);
        match rest.get(..length) {
            Some(body) => (body.to_vec(), length),
            None => return Ok(None),
        }
    };
    Ok(Some(Response {
        len: body_start + body_len,
        status,
        body,
        close,
    }))
}

/// Joins the chunks of a chunked body; returns it and the bytes it took.
fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, HttpError> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_end) = find(&buf[at..], b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[at..at + line_end])
            .map_err(|_| HttpError::Malformed("chunk size"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| HttpError::Malformed("chunk size"))?;
        if body.len() + size > MAX_RESPONSE {
            return Err(HttpError::TooLarge(MAX_RESPONSE));
        }
        at += line_end + 2;
        if size == 0 {
            // No trailers from an ingest route: the terminating empty line follows.
            return match buf.get(at..at + 2) {
                Some(b"\r\n") => Ok(Some((body, at + 2))),
                Some(_) => Err(HttpError::Malformed("chunk trailer")),
                None => Ok(None),
            };
        }
        let Some(chunk) = buf.get(at..at + size) else {
            return Ok(None);
        };
        body.extend_from_slice(chunk);
        at += size;
        match buf.get(at..at + 2) {
            Some(b"\r\n") => at += 2,
            Some(_) => return Err(HttpError::Malformed("chunk end")),
            None => return Ok(None),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn content_length_responses_split_anywhere() {
        let text = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"error\":1}HTTP/1.1 200 OK\r\n";
        let whole = text.len() - "HTTP/1.1 200 OK\r\n".len();
        for cut in 0..whole {
            assert_eq!(parse_response(&text[..cut]), Ok(None), "cut at {cut}");
        }
        let response = parse_response(text).unwrap().unwrap();
        assert_eq!(response.status, 400);
        assert_eq!(response.body, b"{\"error\":1}");
        assert_eq!(response.len, whole);
        assert!(!response.close);
    }

    #[test]
    fn chunked_and_closing_responses() {
        let text = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        for cut in 0..text.len() {
            assert_eq!(parse_response(&text[..cut]), Ok(None), "cut at {cut}");
        }
        let response = parse_response(text).unwrap().unwrap();
        assert_eq!(response.body, b"abcde");
        assert_eq!(response.len, text.len());
        assert!(response.close);
        let empty = parse_response(b"HTTP/1.1 200 OK\r\ndate: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((empty.status, empty.body.len()), (200, 0));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_response(b"\x78\x78\x05\x01\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 99999999\r\n\r\n").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
        assert!(parse_response(&[b'x'; MAX_RESPONSE + 1]).is_err());
    }
}
