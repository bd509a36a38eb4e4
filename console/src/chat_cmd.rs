//! `lifeline chat MACHINE`: talk with the user of a machine. Their lines
//! appear in the indicator window on their screen; their answers come back.

use crate::client::Client;
use anyhow::{Context, bail};
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_proto::{
    Channel, ConsoleReply, ConsoleRequest, Permission, SessionPurpose,
    chat::{ChatMsg, MAX_CHAT_LEN, check_text},
    printable,
};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// How the chat runs.
pub struct ChatOptions {
    /// Lines to send first; with none, lines are read from stdin.
    pub messages: Vec<String>,
    /// After sending `messages`, wait this long for the user's first reply,
    /// print it and stop.
    pub wait_reply: Option<Duration>,
    /// Put this text on the user's clipboard (only if they share it).
    pub clipboard: Option<String>,
}

/// How a chat message from the machine is shown, if it is: what the agent
/// sent, printable, a line of several indented under its first.
#[must_use]
pub fn shown(msg: &ChatMsg) -> Option<String> {
    let said = |text: &str| printable::indented(text, "  ");
    Some(match msg {
        ChatMsg::Text { from, text } => {
            format!("{}: {}", printable::line(from.clone(), 255), said(text))
        }
        ChatMsg::Notice { text } => format!("* {}", said(text)),
        ChatMsg::Clipboard { text } => format!("clipboard: {}", said(text)),
        ChatMsg::Permission { control } => format!(
            "* you may {}",
            if *control { "control" } else { "only watch" }
        ),
        ChatMsg::ClipboardSharing { on } => {
            format!("* clipboard sharing {}", if *on { "on" } else { "off" })
        }
        ChatMsg::AskControl => return None,
    })
}

fn print(msg: &ChatMsg) {
    if let Some(line) = shown(msg) {
        println!("{line}");
    }
}

/// Opens the chat stream of an open session (the viewer window's).
///
/// # Errors
/// Stream failures.
pub async fn attach(
    client: &mut Client,
    session: lifeline_proto::SessionId,
) -> anyhow::Result<(SecureSend, SecureRecv)> {
    Ok(client.open_stream(session, Channel::Chat).await?)
}

/// Asks the user of a session for control (they get a prompt); returns
/// whether they gave it.
///
/// # Errors
/// Stream failures, or no answer within 40 s.
pub async fn ask_control(
    client: &mut Client,
    session: lifeline_proto::SessionId,
) -> anyhow::Result<bool> {
    let (mut send, mut recv) = attach(client, session).await?;
    send.write_msg(&ChatMsg::AskControl, MAX_CHAT_LEN).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let msg = tokio::time::timeout_at(deadline, recv.read_msg::<ChatMsg>(MAX_CHAT_LEN))
            .await
            .map_err(|_| anyhow::anyhow!("no answer to the request for control"))??;
        match msg {
            Some(ChatMsg::Permission { control }) => return Ok(control),
            Some(m) => print(&m),
            None => bail!("the session ended"),
        }
    }
}

/// Opens a chat session and runs it.
///
/// # Errors
/// Refusals (offline, declined), bad lines, a lost connection, or no
/// reply in time.
pub async fn run(client: &mut Client, machine: &str, opts: ChatOptions) -> anyhow::Result<()> {
    for m in &opts.messages {
        check_text(m).map_err(|why| anyhow::anyhow!("cannot send {m:?}: {why}"))?;
    }
    let reply = client
        .request(ConsoleRequest::OpenSession {
            machine: machine.to_string(),
            purpose: SessionPurpose::Chat,
            permission: Permission::View,
            ticket: None,
        })
        .await
        .with_context(|| format!("chat with {machine}"))?;
    let ConsoleReply::SessionOpened {
        session, hostname, ..
    } = reply
    else {
        bail!("unexpected answer {reply:?}");
    };
    let (mut send, mut recv) = attach(client, session).await?;
    eprintln!("chatting with the user of {hostname}; their window shows your lines");
    let text = |text: String| ChatMsg::Text {
        from: String::new(),
        text,
    };
    let result: anyhow::Result<()> = async {
        if opts.messages.is_empty() && opts.clipboard.is_none() {
            let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            loop {
                tokio::select! {
                    line = stdin.next_line() => match line? {
                        Some(l) if check_text(&l).is_ok() => {
                            send.write_msg(&text(l), MAX_CHAT_LEN).await?;
                        }
                        Some(l) if l.trim().is_empty() => {}
                        Some(l) => eprintln!("not sent: {}", check_text(&l).err().unwrap_or_default()),
                        None => return Ok(()),
                    },
                    msg = recv.read_msg::<ChatMsg>(MAX_CHAT_LEN) => match msg? {
                        Some(m) => print(&m),
                        None => bail!("the chat ended"),
                    },
                }
            }
        }
        for m in &opts.messages {
            send.write_msg(&text(m.clone()), MAX_CHAT_LEN).await?;
        }
        if let Some(c) = &opts.clipboard {
            // The user's clipboard is theirs: it is sent once they switch
            // sharing on in their window.
            let wait = opts.wait_reply.unwrap_or(Duration::from_secs(60));
            let deadline = tokio::time::Instant::now() + wait;
            eprintln!("waiting for the user to share their clipboard…");
            loop {
                let msg = tokio::time::timeout_at(
                    deadline,
                    recv.read_msg::<ChatMsg>(MAX_CHAT_LEN),
                )
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "the user did not share their clipboard within {} s",
                        wait.as_secs()
                    )
                })?;
                match msg? {
                    Some(ChatMsg::ClipboardSharing { on: true }) => break,
                    Some(m) => print(&m),
                    None => bail!("the chat ended"),
                }
            }
            send.write_msg(&ChatMsg::Clipboard { text: c.clone() }, MAX_CHAT_LEN).await?;
            eprintln!("clipboard text sent");
        }
        let Some(wait) = opts.wait_reply else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, recv.read_msg::<ChatMsg>(MAX_CHAT_LEN))
                .await
            {
                Err(_) => bail!("no reply within {} s", wait.as_secs()),
                Ok(msg) => match msg? {
                    Some(m @ (ChatMsg::Text { .. } | ChatMsg::Clipboard { .. })) => {
                        print(&m);
                        return Ok(());
                    }
                    Some(m) => print(&m),
                    None => bail!("the chat ended"),
                },
            }
        }
    }
    .await;
    let result = match result {
        Err(e) if e.to_string() == "the chat ended" => {
            let why = client
                .end_reason(session, Duration::from_secs(3))
                .await
                .map_or_else(|| "the chat ended".to_string(), |r| r.to_string());
            Err(anyhow::anyhow!("chat ended: {why}"))
        }
        other => other,
    };
    send.finish();
    // Let the last line reach the agent before the session closes: the
    // agent ends its half of the chat once it has read all of ours (what
    // the user wrote meanwhile is still shown).
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(m)) = recv.read_msg::<ChatMsg>(MAX_CHAT_LEN).await {
            print(&m);
        }
    })
    .await;
    let _ = client
        .request(ConsoleRequest::CloseSession { session })
        .await;
    result
}
