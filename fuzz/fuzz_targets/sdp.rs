//! SDP: request and response parsers, and the client and server machines fed the datagram.
#![no_main]

use core::net::{Ipv6Addr, SocketAddrV6};

use ccs_proto::sdp::{
    SdpClient, SdpClientConfig, SdpRequestRepr, SdpResponseRepr, SdpServer, SdpServerConfig,
};
use ccs_proto::time::Instant;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = SdpRequestRepr::parse(data) {
        assert_eq!(SdpRequestRepr::parse(&req.emit()).ok(), Some(req));
    }
    if let Ok(res) = SdpResponseRepr::parse(data) {
        assert_eq!(SdpResponseRepr::parse(&res.emit()).ok(), Some(res));
    }
    let now = Instant::ZERO;
    let mut client = SdpClient::new(SdpClientConfig::default());
    client.start(now);
    client.handle_datagram(now, data);
    while client.poll_transmit().is_some() {}
    while client.poll_event().is_some() {}
    let ip = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    if let Ok(mut server) = SdpServer::new(SdpServerConfig::no_tls(ip, 50_000)) {
        let from = SocketAddrV6::new(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2), 50_001, 0, 0);
        server.handle_datagram(now, from, data);
        let mut answers = 0;
        while server.poll_transmit().is_some() {
            answers += 1;
        }
        assert!(answers <= 1, "one datagram, at most one answer");
        while server.poll_event().is_some() {}
    }
});
