//! Just enough `multipart/form-data` (RFC 7578) to read the logo form: a file field and the
//! CSRF field. Axum's own reader is a feature this workspace does not enable, and the form is
//! small (the dashboard's request body limit applies before this runs).

/// One field of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Present for a file field (empty when no file was chosen).
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Most fields a form may have here: the logo form has two.
const MAX_PARTS: usize = 8;

/// The `boundary` parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        // RFC 2046: 1 to 70 characters.
        (!v.is_empty() && v.len() <= 70).then(|| v.to_string())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// A parameter of a `Content-Disposition` header (`name="logo"`).
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The fields of a form body, or `None` when it is not well formed.
pub fn parse(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = boundary(content_type)?;
    let delim = format!("--{boundary}").into_bytes();
    let mut close = b"\r\n".to_vec();
    close.extend_from_slice(&delim);
    let mut pos = find(body, &delim, 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2)? == b"--" {
            return Some(parts);
        }
        if body.get(pos..pos + 2)? != b"\r\n" || parts.len() >= MAX_PARTS {
            return None;
        }
        let head_start = pos + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let head = std::str::from_utf8(&body[head_start..head_end]).ok()?;
        let data_start = head_end + 4;
        let data_end = find(body, &close, data_start)?;
        let (mut disposition, mut content_type) = (None, None);
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':')?;
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                disposition = Some(v.trim().to_string());
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_string());
            }
        }
        let disposition = disposition?;
        parts.push(Part {
            name: param(&disposition, "name")?,
            filename: param(&disposition, "filename"),
            content_type,
            data: body[data_start..data_end].to_vec(),
        });
        pos = data_end + close.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=----x7";

    fn body(file: &[u8]) -> Vec<u8> {
        let mut b =
            b"------x7\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n".to_vec();
        b.extend_from_slice(
            b"------x7\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"l.png\"\r\nContent-Type: image/png\r\n\r\n",
        );
        b.extend_from_slice(file);
        b.extend_from_slice(b"\r\n------x7--\r\n");
        b
    }

    #[test]
    fn a_form_with_a_file_is_read() {
        let file = b"\x89PNG\r\n\x1a\n\r\n--not-the-boundary";
        let parts = parse(CT, &body(file)).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].data.as_slice()),
            ("csrf", &b"abc"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("l.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].data, file);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\""),
            Some("a b".into())
        );
        assert!(boundary("application/x-www-form-urlencoded").is_none());
        assert!(parse(CT, b"no boundary here").is_none());
        let mut cut = body(b"data");
        cut.truncate(cut.len() - 12);
        assert!(parse(CT, &cut).is_none());
        assert!(parse("multipart/form-data; boundary=zz", &body(b"x")).is_none());
    }
}
