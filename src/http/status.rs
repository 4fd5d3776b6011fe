//! Status codes and reason phrases (RFC 9110 §15). STUB.

pub fn reason(code: u16) -> &'static str {
    let _ = code;
    todo!()
}
