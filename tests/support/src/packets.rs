//! MQTT 3.1.1 packets written by hand, for tests that must send what no
//! client library would (a NUL in a topic, a login only the guard knows).

/// A CONNECT (MQTT 3.1.1, clean session) for `client_id`, with `keep_alive`
/// seconds and `login` (user, password) if given.
pub fn connect_packet(client_id: &str, keep_alive: u16, login: Option<(&str, &str)>) -> Vec<u8> {
    let flags = if login.is_some() { 0xc2 } else { 0x02 };
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, flags];
    body.extend_from_slice(&keep_alive.to_be_bytes());
    let mut field = |f: &[u8]| {
        body.extend_from_slice(&(f.len() as u16).to_be_bytes());
        body.extend_from_slice(f);
    };
    field(client_id.as_bytes());
    if let Some((user, password)) = login {
        field(user.as_bytes());
        field(password.as_bytes());
    }
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

/// A QoS 0 PUBLISH of `payload` to `topic` (short: one length byte).
pub fn publish_packet(topic: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic);
    body.extend_from_slice(payload);
    let mut packet = vec![0x30, body.len() as u8];
    packet.extend(body);
    packet
}
