//! One client connection's message loop: pgwire 0.41's `process_socket`, except that
//! input which cannot be decoded (an unknown message type, an impossible length, garbage
//! instead of a startup packet) is answered with FATAL 08P01 before the connection is
//! closed; pgwire closes silently, or worse, reads a length below 4 as an empty message.
//! [`FramingGuard`] checks message lengths before pgwire decodes them. A panic while
//! decoding closes only this connection, with the same answer; a panic while answering
//! a message (a bug in the engine) is answered with XX000 and the connection goes on.
//! When the server stops, a connection is told so (FATAL 57P01, as PostgreSQL's fast
//! shutdown tells it) before it is closed, whether it is idle or its query is cut short.

use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion_postgres::pgwire::api::{
    ClientInfo, ErrorHandler, PgWireConnectionState, PgWireServerHandlers,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use datafusion_postgres::pgwire::tokio::TlsAcceptor;
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};
use tokio_util::sync::CancellationToken;

use crate::sqlstate::SqlState;

/// How much output is buffered before it is written to the socket.
const WRITE_CHUNK: usize = 256 * 1024;

/// A client that has not finished logging in by then is dropped (pgwire's figure).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves one TCP connection until the client leaves or breaks the protocol, or `stop`
/// is cancelled (the server stops).
///
/// # Errors
/// The socket failed.
pub async fn process_connection<H: PgWireServerHandlers>(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    handlers: H,
    stop: CancellationToken,
) -> io::Result<()> {
    let startup_timeout = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_timeout);
    let socket = tokio::select! {
        () = &mut startup_timeout => return Ok(()),
        () = stop.cancelled() => return Ok(()),
        socket = negotiate_tls(tcp, tls) => socket?,
    };
    // `None`: a direct TLS handshake while TLS is not configured.
    let Some(socket) = socket else {
        return Ok(());
    };
    let parts = socket.into_parts();
    let mut guard = FramingGuard::new(parts.io);
    guard.check(&parts.read_buf);
    let mut guarded = FramedParts::new(guard, parts.codec);
    guarded.read_buf = parts.read_buf;
    guarded.write_buf = parts.write_buf;
    let mut socket = Framed::from_parts(guarded);
    // Write to the socket in large chunks: results and COPY rows are buffered up to this
    // much before a write (tokio-util's default, 8 KiB, costs a system call per ~75 rows;
    // every response is still flushed at its end).
    socket.set_backpressure_boundary(WRITE_CHUNK);
    let startup_handler = handlers.startup_handler();
    let simple_query_handler = handlers.simple_query_handler();
    let extended_query_handler = handlers.extended_query_handler();
    let copy_handler = handlers.copy_handler();
    let cancel_handler = handlers.cancel_handler();
    let error_handler = handlers.error_handler();
    loop {
        let logging_in = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        let next = AssertUnwindSafe(socket.next()).catch_unwind();
        let next = if logging_in {
            tokio::select! {
                () = &mut startup_timeout => break,
                () = stop.cancelled() => break,
                next = next => next,
            }
        } else {
            tokio::select! {
                () = stop.cancelled() => {
                    terminated_by_shutdown(&mut socket).await;
                    break;
                }
                next = next => next,
            }
        };
        let message = match next {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(PgWireError::IoError(e)))) if e.kind() == io::ErrorKind::InvalidData => {
                protocol_violation(&mut socket, &e.to_string()).await;
                break;
            }
            Ok(None) | Ok(Some(Err(PgWireError::IoError(_)))) => break,
            Ok(Some(Err(e))) => {
                protocol_violation(&mut socket, &e.to_string()).await;
                break;
            }
            Err(_panic) => {
                protocol_violation(&mut socket, "invalid message").await;
                break;
            }
        };
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let is_extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        let processing = AssertUnwindSafe(process_message(
            message,
            &mut socket,
            std::sync::Arc::clone(&startup_handler),
            std::sync::Arc::clone(&simple_query_handler),
            std::sync::Arc::clone(&extended_query_handler),
            std::sync::Arc::clone(&copy_handler),
            std::sync::Arc::clone(&cancel_handler),
        ))
        .catch_unwind();
        let outcome = tokio::select! {
            outcome = processing => outcome,
            () = stop.cancelled() => {
                terminated_by_shutdown(&mut socket).await;
                break;
            }
        };
        let outcome = outcome.unwrap_or_else(|panic| Err(panicked(panic.as_ref())));
        if let Err(mut e) = outcome {
            error_handler.on_error(&socket, &mut e);
            process_error(&mut socket, e, is_extended_query).await?;
        }
    }
    Ok(())
}

/// The error a statement that panicked answers with (XX000, as PostgreSQL answers an
/// internal failure); the connection stays usable, as do all others.
fn panicked(panic: &(dyn std::any::Any + Send)) -> PgWireError {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".to_owned());
    tracing::error!(panic = %what, "a statement panicked; answered with XX000");
    crate::server::errors::user_error(
        SqlState::INTERNAL_ERROR,
        format!("internal error while running the statement: {what}"),
    )
}

/// FATAL 08P01, best effort: the client may already be gone.
async fn protocol_violation<S>(socket: &mut S, detail: &str)
where
    S: futures::Sink<PgWireBackendMessage> + Unpin,
{
    tracing::info!(detail, "protocol violation; closing the connection");
    let mut error = ErrorInfo::new(
        "FATAL".to_owned(),
        SqlState::PROTOCOL_VIOLATION.code().to_owned(),
        format!("invalid frontend message: {detail}"),
    );
    error.hint = Some("the client does not speak the PostgreSQL protocol v3".to_owned());
    let _ = socket
        .send(PgWireBackendMessage::ErrorResponse(error.into()))
        .await;
}

/// How long a stopping server tries to tell a client (one that does not read its
/// socket must not hold the stop up).
const SHUTDOWN_NOTICE_TIMEOUT: Duration = Duration::from_secs(2);

/// FATAL 57P01, best effort: what PostgreSQL's fast shutdown tells each client.
async fn terminated_by_shutdown<S>(socket: &mut S)
where
    S: futures::Sink<PgWireBackendMessage> + Unpin,
{
    let error = ErrorInfo::new(
        "FATAL".to_owned(),
        SqlState::ADMIN_SHUTDOWN.code().to_owned(),
        "terminating connection due to administrator command".to_owned(),
    );
    let notice = socket.send(PgWireBackendMessage::ErrorResponse(error.into()));
    let _ = tokio::time::timeout(SHUTDOWN_NOTICE_TIMEOUT, notice).await;
}

/// PostgreSQL's limit on a startup packet.
const MAX_STARTUP_PACKET: i32 = 10_000;
/// SSLRequest and GSSENCRequest codes: untyped packets that precede the startup packet.
const NEGOTIATION_CODES: [u32; 2] = [80_877_103, 80_877_104];

/// Follows the message framing of everything the client sends: untyped packets until the
/// startup packet (8..=10000 bytes), then typed messages (a type byte and a length of at
/// least 4). A broken frame fails the read with `InvalidData` before pgwire sees it.
#[derive(Debug)]
struct FramingGuard<S> {
    inner: S,
    /// Whether the startup packet is behind us (messages carry a type byte).
    typed: bool,
    /// The header of the next frame, as far as it has arrived.
    header: Vec<u8>,
    /// Body bytes of the current frame still to come.
    body_left: usize,
    broken: Option<&'static str>,
}

impl<S> FramingGuard<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            typed: false,
            header: Vec::with_capacity(8),
            body_left: 0,
            broken: None,
        }
    }

    /// Follows `bytes` through the framing; remembers the first violation.
    fn check(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.broken.is_none() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            // Untyped packets also show their code (4 bytes after the length).
            let wanted = if self.typed { 5 } else { 8 };
            let n = (wanted - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() < wanted {
                continue;
            }
            let at = usize::from(self.typed);
            let length = i32::from_be_bytes([
                self.header[at],
                self.header[at + 1],
                self.header[at + 2],
                self.header[at + 3],
            ]);
            if self.typed {
                if length < 4 {
                    self.broken = Some("invalid message length");
                }
                self.body_left = usize::try_from(length - 4).unwrap_or(0);
            } else {
                if !(8..=MAX_STARTUP_PACKET).contains(&length) {
                    self.broken = Some("invalid length of startup packet");
                }
                let code = u32::from_be_bytes([
                    self.header[4],
                    self.header[5],
                    self.header[6],
                    self.header[7],
                ]);
                self.typed = !NEGOTIATION_CODES.contains(&code);
                self.body_left = usize::try_from(length - 8).unwrap_or(0);
            }
            self.header.clear();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FramingGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(broken) = this.broken {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, broken)));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.check(&buf.filled()[before..]);
            if let Some(broken) = this.broken {
                buf.set_filled(before);
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, broken)));
            }
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FramingGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::FramingGuard;

    fn verdict(chunks: &[&[u8]]) -> Option<&'static str> {
        let mut guard = FramingGuard::new(());
        for chunk in chunks {
            guard.check(chunk);
        }
        guard.broken
    }

    fn startup() -> Vec<u8> {
        let mut packet = 16u32.to_be_bytes().to_vec();
        packet.extend_from_slice(&196_608u32.to_be_bytes());
        packet.extend_from_slice(b"user\0a\0\0");
        packet
    }

    #[test]
    fn good_frames_pass_even_split_anywhere() {
        let mut all = startup();
        all.extend_from_slice(b"Q\0\0\0\x0dSELECT 1\0");
        all.extend_from_slice(b"X\0\0\0\x04");
        for cut in 0..all.len() {
            assert_eq!(verdict(&[&all[..cut], &all[cut..]]), None, "cut at {cut}");
        }
    }

    #[test]
    fn impossible_lengths_are_caught() {
        let s = startup();
        assert!(verdict(&[&s, b"Q\0\0\0\x02"]).is_some());
        assert!(verdict(&[&s, b"Q\xff\xff\xff\xfb"]).is_some());
        assert!(verdict(&[b"\x00\x1f\x3e\x5d\x7c\x9b\xba\xd9"]).is_some());
        assert!(verdict(&[b"\0\0\0\x04\0\0\0\0"]).is_some());
        // An SSLRequest is followed by another untyped packet.
        let mut ssl = 8u32.to_be_bytes().to_vec();
        ssl.extend_from_slice(&80_877_103u32.to_be_bytes());
        assert_eq!(verdict(&[&ssl, &s, b"Q\0\0\0\x04"]), None);
    }
}
