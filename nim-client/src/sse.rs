//! A server-sent events decoder: bytes in, events out.
//!
//! Follows the WHATWG event-stream rules: lines end with LF, CRLF or CR (also split across
//! reads), `:` lines are comments, `data` lines are joined with `\n`, a blank line dispatches,
//! and [`SseDecoder::finish`] flushes a last event that has no blank line after it.

/// One event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` value, if any.
    pub id: Option<String>,
    /// The `retry:` value in milliseconds, if any.
    pub retry: Option<u64>,
}

/// Incremental decoder.
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    skip_lf: bool,
    current: SseEvent,
    has_data: bool,
    has_fields: bool,
}

impl SseDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; complete events are appended to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) {
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
        }
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&bytes[..pos]);
            let cr = bytes[pos] == b'\r';
            bytes = &bytes[pos + 1..];
            if cr {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
            self.line = line;
            self.line.clear();
        }
        self.line.extend_from_slice(bytes);
    }

    /// Ends the input: flushes an unterminated last line and event.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut out);
        }
        self.process_line(b"", &mut out);
        out.pop()
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_fields {
                let event = std::mem::take(&mut self.current);
                if self.has_data || event.event.is_some() {
                    out.push(event);
                }
            }
            self.has_data = false;
            self.has_fields = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(&value);
                self.has_data = true;
                self.has_fields = true;
            }
            b"event" => {
                self.current.event = Some(value.into_owned());
                self.has_fields = true;
            }
            b"id" => {
                if !value.contains('\0') {
                    self.current.id = Some(value.into_owned());
                }
                self.has_fields = true;
            }
            b"retry" => {
                if let Ok(ms) = value.parse() {
                    self.current.retry = Some(ms);
                }
                self.has_fields = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            d.push(chunk, &mut out);
        }
        out.extend(d.finish());
        out
    }

    fn datas(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn line_endings_in_any_split() {
        for input in [
            &b"data: a\n\ndata: b\n\n"[..],
            b"data: a\r\n\r\ndata: b\r\n\r\n",
            b"data: a\r\rdata: b\r\r",
            b"data: a\r\n\ndata: b\n\r\n",
        ] {
            for piece in 1..input.len() {
                assert_eq!(
                    datas(&decode_in_pieces(input, piece)),
                    ["a", "b"],
                    "{input:?} / {piece}"
                );
            }
        }
    }

    #[test]
    fn comments_multiline_events_and_eof() {
        let input = b": ping\n\nevent: response.output_text.delta\ndata: {\"a\":\ndata: 1}\nid: 7\nretry: 5\n\n: keep\ndata:x\ndata";
        let events = decode_in_pieces(input, 3);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].event.as_deref(),
            Some("response.output_text.delta")
        );
        assert_eq!(events[0].data, "{\"a\":\n1}");
        assert_eq!(events[0].id.as_deref(), Some("7"));
        assert_eq!(events[0].retry, Some(5));
        assert_eq!(events[1].data, "x\n");
    }

    #[test]
    fn utf8_split_across_reads() {
        let input = "data: héllo €\n\n".as_bytes();
        assert_eq!(datas(&decode_in_pieces(input, 1)), ["héllo €"]);
    }
}
