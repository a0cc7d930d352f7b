//! Salesforce record ids: 15 case-sensitive characters plus a 3-character
//! suffix that encodes the case of the first 15, so that case-insensitive
//! systems can still tell ids apart.

const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The 18-character form of a 15-character id (the case-safe suffix appended).
pub fn to_18(id15: &str) -> String {
    let bytes = id15.as_bytes();
    let mut out = String::with_capacity(18);
    out.push_str(id15);
    for chunk in bytes.chunks(5) {
        let mut bits = 0usize;
        for (i, b) in chunk.iter().enumerate() {
            if b.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        out.push(SUFFIX_ALPHABET[bits] as char);
    }
    out
}

/// A new 18-character id: the object's key prefix, a fixed pod marker and a
/// base62 sequence number, so ids are unique and deterministic per org.
pub fn make(prefix: &str, seq: u64) -> String {
    let mut digits = [b'0'; 10];
    let mut n = seq;
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let mut id15 = String::with_capacity(15);
    id15.push_str(prefix);
    id15.push_str("Fk");
    id15.push_str(std::str::from_utf8(&digits).unwrap_or("0000000000"));
    to_18(&id15)
}

/// Whether `s` has the shape of a record id (15 or 18 alphanumerics).
pub fn looks_like_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The 18-character form of any well-formed id, so 15- and 18-character
/// spellings of the same record find it.
pub fn normalize(s: &str) -> Option<String> {
    if !looks_like_id(s) {
        return None;
    }
    if s.len() == 15 {
        return Some(to_18(s));
    }
    // An 18-character id may arrive with its suffix in another case; the
    // first 15 characters are authoritative.
    Some(to_18(&s[..15]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_matches_a_known_salesforce_id() {
        // A well-known example pair from Salesforce's documentation.
        assert_eq!(to_18("001A0000006Vm9r"), "001A0000006Vm9rIAC");
    }

    #[test]
    fn ids_carry_the_prefix_and_are_unique() {
        let a = make("001", 1);
        let b = make("001", 2);
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("001"));
        assert_ne!(a, b);
        assert_eq!(normalize(&a[..15]).as_deref(), Some(a.as_str()));
    }
}
