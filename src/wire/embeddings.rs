//! The `base64` encoding of embeddings: standard base64 (RFC 4648, with `=`
//! padding) of the vector's little-endian float32 bytes, as OpenAI sends it and
//! openai-python decodes it (`np.frombuffer(base64.b64decode(s), dtype="float32")`).
//! Small enough to keep here rather than add a dependency.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 of the floats' little-endian bytes.
pub fn floats_to_base64(floats: &[f32]) -> String {
    let bytes: Vec<u8> = floats
        .iter()
        .flat_map(|float| float.to_le_bytes())
        .collect();
    encode(&bytes)
}

/// The floats of a base64 string of little-endian float32 bytes.
pub fn base64_to_floats(text: &str) -> Result<Vec<f32>, String> {
    let bytes = decode(text)?;
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "{} bytes of base64 are not a whole number of float32 values",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|quad| f32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]]))
        .collect())
}

/// Standard base64 with padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b0 = group[0];
        let b1 = group.get(1).copied().unwrap_or(0);
        let b2 = group.get(2).copied().unwrap_or(0);
        let sextets = [
            b0 >> 2,
            (b0 & 0x03) << 4 | b1 >> 4,
            (b1 & 0x0f) << 2 | b2 >> 6,
            b2 & 0x3f,
        ];
        for (position, sextet) in sextets.iter().enumerate() {
            if position <= group.len() {
                text.push(char::from(ALPHABET[usize::from(*sextet)]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// Decodes standard base64; padding is optional, ASCII whitespace ignored.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let mut sextets = Vec::with_capacity(text.len());
    for character in text
        .trim_end_matches(|c: char| c == '=' || c.is_ascii_whitespace())
        .bytes()
    {
        if character.is_ascii_whitespace() {
            continue;
        }
        let value = ALPHABET
            .iter()
            .position(|&letter| letter == character)
            .ok_or_else(|| format!("{:?} is not a base64 character", char::from(character)))?;
        sextets.push(value as u8);
    }
    if sextets.len() % 4 == 1 {
        return Err("the base64 text has a dangling character".to_owned());
    }
    let mut bytes = Vec::with_capacity(sextets.len() * 3 / 4);
    for group in sextets.chunks(4) {
        let s = |index: usize| group.get(index).copied().unwrap_or(0);
        let decoded = [
            s(0) << 2 | s(1) >> 4,
            (s(1) & 0x0f) << 4 | s(2) >> 2,
            (s(2) & 0x03) << 6 | s(3),
        ];
        bytes.extend_from_slice(&decoded[..group.len() - 1]);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_rfc_4648_vectors_and_decodes_back() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(decode("Zm9vYg").unwrap(), b"foob");
        assert!(decode("Zm9v!").is_err());
        assert!(decode("Z").is_err());
    }

    #[test]
    fn floats_round_trip_as_little_endian_float32() {
        let floats = [0.0, -1.5, 0.1, f32::MAX, 1e-20];
        let text = floats_to_base64(&floats);
        assert_eq!(base64_to_floats(&text).unwrap(), floats);
        // 1.0f32 is 00 00 80 3f in little-endian.
        assert_eq!(floats_to_base64(&[1.0]), "AACAPw==");
        assert!(base64_to_floats("AACA").is_err());
    }
}
