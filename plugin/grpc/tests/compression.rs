//! zstd request compression, which the Python clients of tests/grpc cannot
//! send: the sidecar must accept it on the Enricher service.

use std::time::Duration;

use postfix_enrich_core::Config;
use postfix_enrich_grpc::pb::v1::{enricher_client::EnricherClient, EnrichRequest, LogLine};
use postfix_enrich_grpc::{serve_with_config, ServeArgs};
use tonic::codec::CompressionEncoding;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_and_gzip_requests_are_accepted() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let args = ServeArgs::listening_on(addr);
    tokio::spawn(serve_with_config(args, Config::default()));
    let mut client = None;
    for _ in 0..100 {
        if let Ok(c) = EnricherClient::connect(format!("http://{addr}")).await {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = client.expect("server up");
    let request = EnrichRequest {
        lines: vec![LogLine {
            line: b"Jun 19 16:27:21 mx postfix/smtpd[1]: connect from unknown[192.0.2.7]".to_vec(),
            ..LogLine::default()
        }],
    };
    for encoding in [CompressionEncoding::Zstd, CompressionEncoding::Gzip] {
        let mut c = client.clone().send_compressed(encoding);
        let events = c.enrich(request.clone()).await.expect("accepted").into_inner().events;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].postfix.as_ref().unwrap().event, "connect");
    }
}
