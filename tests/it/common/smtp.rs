//! An in-process SMTP sink for tests: a listener on `127.0.0.1:0` that speaks
//! just enough ESMTP (RFC 5321, with the `8BITMIME` and `SMTPUTF8` extensions) to
//! take mails from a client such as lettre, and hands every accepted mail to the
//! test through a channel.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long [`SmtpSink::expect_mail`] waits (CONTRACT.md §7: up to 10 s).
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`SmtpSink::assert_no_mail`] watches (CONTRACT.md §7: 0.5 s).
pub const NO_MAIL_WINDOW: Duration = Duration::from_millis(500);
/// The largest line or message the sink takes (a test sink, not a mail server).
const MAX_MESSAGE: usize = 1 << 20;

/// One mail as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM:<…>`), empty for the null reverse path.
    pub from: String,
    /// The envelope recipients (`RCPT TO:<…>`), in order.
    pub recipients: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
    /// `MAIL FROM` carried the `SMTPUTF8` parameter.
    pub smtputf8: bool,
    /// `MAIL FROM` carried `BODY=8BITMIME` (recorded; no test checks it yet).
    #[allow(dead_code)]
    pub body_8bitmime: bool,
}

impl ReceivedMail {
    /// The header block and the raw (still transfer-encoded) body.
    fn split(&self) -> (String, &[u8]) {
        let (head, body) = match self.data.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(end) => (&self.data[..end], &self.data[end + 4..]),
            None => (&self.data[..], &[][..]),
        };
        (String::from_utf8_lossy(head).into_owned(), body)
    }

    /// The headers, unfolded, in order.
    pub fn headers(&self) -> Vec<(String, String)> {
        let (head, _) = self.split();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        headers
    }

    /// The first header called `name` (case-insensitively).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The body of a single-part mail, its `Content-Transfer-Encoding` undone
    /// (`7bit`, `8bit`, `binary`, `quoted-printable` or `base64`), as text.
    pub fn text_body(&self) -> String {
        let (_, raw) = self.split();
        let encoding = self
            .header("content-transfer-encoding")
            .unwrap_or_else(|| "7bit".to_owned())
            .to_ascii_lowercase();
        let decoded = match encoding.as_str() {
            "7bit" | "8bit" | "binary" => raw.to_vec(),
            "quoted-printable" => decode_quoted_printable(raw),
            "base64" => {
                let compact: Vec<u8> = raw
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap_or_else(|e| panic!("the base64 body does not decode: {e}"))
            }
            other => panic!("unknown Content-Transfer-Encoding {other:?}"),
        };
        String::from_utf8(decoded)
            .unwrap_or_else(|e| panic!("the body is not UTF-8: {e}"))
            .replace("\r\n", "\n")
    }

    /// The value of the first `token: <value>` line of the body, as a client
    /// reads it (CONTRACT.md §7).
    pub fn token(&self) -> Option<String> {
        self.text_body()
            .lines()
            .find_map(|line| line.trim_end().strip_prefix("token: "))
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty())
    }
}

/// Undoes quoted-printable (RFC 2045 §6.7): `=XY` escapes and soft line breaks.
fn decode_quoted_printable(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'=' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let rest = &raw[i + 1..];
        if rest.starts_with(b"\r\n") {
            i += 3;
        } else if rest.starts_with(b"\n") {
            i += 2;
        } else if let [a, b, ..] = rest
            && let (Some(a), Some(b)) = (hex(*a), hex(*b))
        {
            out.push((a << 4) | b);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// The running sink; stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    mails: mpsc::UnboundedReceiver<ReceivedMail>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Listens on a free loopback port.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("the SMTP sink cannot listen: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the SMTP sink has no address: {e}"));
        let (sender, mails) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                tokio::spawn(async move {
                    // A client that breaks the session is the test's business:
                    // the mail it did not finish is simply not recorded.
                    let _ = session(stream, sender).await;
                });
            }
        });
        SmtpSink { addr, mails, task }
    }

    /// `smtp://127.0.0.1:<port>`, as CONTRACT.md §1's `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The next mail, if one comes within `timeout`.
    pub async fn next_mail(&mut self, timeout: Duration) -> Option<ReceivedMail> {
        tokio::time::timeout(timeout, self.mails.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next mail, awaited for up to [`MAIL_TIMEOUT`]; panics when none comes.
    pub async fn expect_mail(&mut self, what: &str) -> ReceivedMail {
        match self.next_mail(MAIL_TIMEOUT).await {
            Some(mail) => mail,
            None => panic!("no mail for {what} within {MAIL_TIMEOUT:?}"),
        }
    }

    /// Panics when a mail comes within [`NO_MAIL_WINDOW`].
    pub async fn assert_no_mail(&mut self, what: &str) {
        if let Some(mail) = self.next_mail(NO_MAIL_WINDOW).await {
            panic!(
                "{what}: a mail came within {NO_MAIL_WINDOW:?}, to {:?}",
                mail.recipients
            );
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The transaction being built in a session.
#[derive(Default)]
struct Transaction {
    from: Option<String>,
    recipients: Vec<String>,
    smtputf8: bool,
    body_8bitmime: bool,
}

/// One SMTP session, until `QUIT` or the client goes away.
async fn session(
    stream: TcpStream,
    mails: mpsc::UnboundedSender<ReceivedMail>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 smtp-sink ESMTP ready\r\n").await?;
    let mut transaction = Transaction::default();
    loop {
        let Some(line) = read_line(&mut read).await? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, argument) = match line.split_once(' ') {
            Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.trim()),
            None => (line.to_ascii_uppercase(), ""),
        };
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => {
                transaction = Transaction::default();
                b"250-smtp-sink greets you\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n"
            }
            "HELO" => {
                transaction = Transaction::default();
                b"250 smtp-sink\r\n"
            }
            "MAIL" => match path_after(argument, "FROM:") {
                Some((from, parameters)) => {
                    transaction = Transaction {
                        from: Some(from),
                        ..Transaction::default()
                    };
                    for parameter in parameters.split_whitespace() {
                        let parameter = parameter.to_ascii_uppercase();
                        if parameter == "SMTPUTF8" {
                            transaction.smtputf8 = true;
                        } else if parameter == "BODY=8BITMIME" {
                            transaction.body_8bitmime = true;
                        }
                    }
                    b"250 2.1.0 OK\r\n"
                }
                None => b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
            },
            "RCPT" => match (&transaction.from, path_after(argument, "TO:")) {
                (None, _) => b"503 5.5.1 MAIL first\r\n",
                (Some(_), Some((to, _))) if !to.is_empty() => {
                    transaction.recipients.push(to);
                    b"250 2.1.5 OK\r\n"
                }
                (Some(_), _) => b"501 5.5.4 Syntax: RCPT TO:<address>\r\n",
            },
            "DATA" if transaction.recipients.is_empty() => b"503 5.5.1 RCPT first\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let Some(data) = read_data(&mut read).await? else {
                    return Ok(());
                };
                let done = std::mem::take(&mut transaction);
                let _ = mails.send(ReceivedMail {
                    from: done.from.unwrap_or_default(),
                    recipients: done.recipients,
                    data,
                    smtputf8: done.smtputf8,
                    body_8bitmime: done.body_8bitmime,
                });
                b"250 2.0.0 OK: queued\r\n"
            }
            "RSET" => {
                transaction = Transaction::default();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return write.shutdown().await;
            }
            _ => b"502 5.5.2 Command not recognized\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// `FROM:<path> PARAMS` → `(path, PARAMS)`; the keyword is case-insensitive and
/// a space may follow the colon.
fn path_after(argument: &str, keyword: &str) -> Option<(String, String)> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start().strip_prefix('<')?;
    let (path, parameters) = rest.split_once('>')?;
    Some((path.to_owned(), parameters.trim().to_owned()))
}

/// One line, `\n` included; `None` at the end of the stream.
async fn read_line<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = (&mut *read)
        .take(MAX_MESSAGE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::other("line too long or truncated"));
    }
    Ok(Some(line))
}

/// The lines after `DATA` until the lone `.`, dot-unstuffed; `None` when the
/// client went away first.
async fn read_data<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    loop {
        let Some(line) = read_line(read).await? else {
            return Ok(None);
        };
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(data));
        }
        let line = match line.strip_prefix(b".") {
            Some(unstuffed) => unstuffed,
            None => &line[..],
        };
        data.extend_from_slice(line);
        if data.len() > MAX_MESSAGE {
            return Err(std::io::Error::other("message too large"));
        }
    }
}
