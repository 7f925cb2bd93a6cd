//! Sessions: starting and stopping the one in the connection panel, multicast group
//! changes, the send target it resolves to, and the peer lookup.

use std::net::SocketAddr;
use std::time::Duration;

use crate::engine::tls::load_pem_certs;
use crate::engine::{GroupSpec, SendTarget, SessionConfig, SessionKind, parse_host_port};
use crate::lang::Lang;
use crate::ui::errors;
use crate::ui::files::JobResult;
use crate::ui::settings::{Mode, UdpTarget};
use crate::ui::tab::{NoticeAbout, SessionTab, Status};
use crate::ui::tls::TlsFacts;

use super::{PeerLookup, TargetError, UdpRoute, fixed_peer, send_target, target_error_text};

impl SessionTab {
    /// Starts the session described by the connection panel. Invalid fields were already
    /// flagged there; this reports the first one again instead of starting.
    pub fn start_session(&mut self, lang: Lang) {
        if let Some(old) = self.session.take() {
            old.stop();
        }
        let mut config = match self.settings.connection.session_config(lang.texts()) {
            Ok(config) => config,
            Err(message) => {
                self.fail(lang, message);
                return;
            }
        };
        self.tls = TlsFacts::default();
        if let SessionConfig::TcpClient(client) = &mut config
            && let Some(tls) = &mut client.tls
        {
            self.tls.accept_any = tls.accept_any && tls.pinned_sha256.is_none();
            if let Some(path) = self.settings.connection.tls.extra_ca() {
                // A small file read once at start (its existence is checked as it is
                // typed); why it cannot be used is shown beside the field.
                match load_pem_certs(&path) {
                    Ok(certs) => tls.extra_roots = certs,
                    Err(error) => {
                        let message = format!(
                            "{}: {}",
                            lang.texts().tls_ca_unreadable,
                            errors::error_text(lang, &error)
                        );
                        self.tls.ca_problem = Some((
                            self.settings.connection.tls.ca_file.clone(),
                            message.clone(),
                        ));
                        self.fail(lang, message);
                        return;
                    }
                }
            }
        }
        self.tls.on = match &config {
            SessionConfig::TcpClient(c) => c.tls.is_some(),
            SessionConfig::TcpServer(s) => s.tls.is_some(),
            SessionConfig::Udp(_) => false,
        };
        self.clients.clear();
        self.udp_dropped = 0;
        self.losses = crate::ui::tab::Losses::default();
        self.status = match &config {
            SessionConfig::TcpClient(c) => Status::Connecting(format!("{}:{}", c.host, c.port)),
            _ => Status::Idle,
        };
        match self.engine.start(config) {
            Ok(handle) => {
                if let Some(local) = handle.local_addr() {
                    if handle.kind() != SessionKind::TcpClient {
                        self.keep_bound_port(local);
                        self.locals.push((handle.id(), local));
                    }
                    self.status = match handle.kind() {
                        SessionKind::TcpServer => Status::Listening(local),
                        SessionKind::Udp => Status::Bound(local),
                        SessionKind::TcpClient => self.status.clone(),
                    };
                }
                self.clear_notice(NoticeAbout::Session);
                if let Some(responder) = &self.automation.responder {
                    responder.install(&handle);
                }
                self.session = Some(handle);
            }
            Err(error) => self.fail(lang, errors::error_text(lang, &error)),
        }
    }

    /// Joins (`Some(true)`), leaves (`Some(false)`) or removes (`None`: leaves and takes
    /// off the list) a multicast group given as `GROUP[+SOURCE][@INTERFACE]`. A group
    /// that is not one is refused in words; the join itself is done by the UDP worker and
    /// its result comes back as an event (a "joined …" record, or the system's reason).
    pub fn change_group(&mut self, lang: Lang, text: &str, join: Option<bool>) {
        let spec = match GroupSpec::parse(text) {
            Ok(spec) => spec,
            Err(_) if join.is_none() => {
                // A stored entry that no longer parses can still be removed.
                self.settings.connection.udp_groups.retain(|g| g != text);
                return;
            }
            Err(error) => {
                self.notify(
                    NoticeAbout::Session,
                    false,
                    errors::error_text(lang, &error),
                );
                return;
            }
        };
        let key = spec.to_string();
        let c = &mut self.settings.connection;
        match join {
            Some(true) => {
                if !c.udp_groups.contains(&key) {
                    c.udp_groups.push(key);
                }
                c.group_input.clear();
            }
            Some(false) => {}
            None => c.udp_groups.retain(|g| *g != key && *g != text),
        }
        let Some(session) = &self.session else {
            return;
        };
        if session.kind() != SessionKind::Udp || session.is_stopped() {
            return;
        }
        let result = match join {
            Some(true) => session.join_group(spec),
            Some(false) | None => {
                let joined = session
                    .multicast_groups()
                    .iter()
                    .any(|g| g.spec == spec && g.status == crate::engine::GroupStatus::Joined);
                if joined {
                    session.leave_group(spec)
                } else {
                    Ok(())
                }
            }
        };
        if let Err(error) = result {
            self.notify(
                NoticeAbout::Session,
                false,
                errors::error_text(lang, &error),
            );
        }
    }

    /// Stops the running session (never blocks: the workers finish on their own).
    pub fn stop_session(&mut self) {
        if let Some(session) = &self.session {
            session.stop();
            self.status = Status::Stopping;
        }
    }

    /// The target every sender uses now, or why there is none.
    pub fn target(&self) -> Result<SendTarget, TargetError> {
        let c = &self.settings.connection;
        let udp = UdpRoute {
            choice: c.udp_target,
            peer: &c.udp_peer,
            last_sender: self.last_sender,
            local: self.session.as_ref().and_then(|s| s.local_addr()),
            lookup: self.peer_lookup.as_ref(),
        };
        send_target(c.mode, &self.clients, udp)
    }

    /// The target every sender uses now, or why there is none, in words.
    pub fn current_target(&self, lang: Lang) -> Result<SendTarget, String> {
        self.target()
            .map_err(|e| target_error_text(lang.texts(), e).to_string())
    }

    /// Looks the fixed UDP peer's name up on a helper thread when it is a name that was
    /// not looked up yet and has not changed for a moment (so typing does not start a
    /// lookup per keystroke). Called every frame.
    pub(in crate::ui) fn lookup_peer(&mut self, lang: Lang) {
        let c = &self.settings.connection;
        if c.mode != Mode::Udp || c.udp_target != UdpTarget::FixedPeer {
            return;
        }
        let text = c.udp_peer.trim().to_string();
        let needs = matches!(fixed_peer(&text, None), Err(TargetError::PeerLookingUp));
        if !needs || self.peer_lookup.as_ref().is_some_and(|l| l.text == text) {
            return;
        }
        match &self.peer_typed {
            Some((typed, since)) if *typed == text => {
                if since.elapsed() < Duration::from_millis(400) {
                    return;
                }
            }
            _ => {
                self.peer_typed = Some((text, std::time::Instant::now()));
                return;
            }
        }
        let Ok((host, port)) = parse_host_port(&text) else {
            return;
        };
        self.peer_lookup = Some(PeerLookup {
            text: text.clone(),
            result: None,
        });
        let ipv4 = self
            .session
            .as_ref()
            .and_then(|s| s.local_addr())
            .is_none_or(|a| a.is_ipv4());
        self.spawn_job(lang, move || {
            use std::net::ToSocketAddrs;
            let result = match (host.as_str(), port).to_socket_addrs() {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    addrs
                        .iter()
                        .find(|a| a.is_ipv4() == ipv4)
                        .or(addrs.first())
                        .copied()
                        .ok_or_else(|| "no address".to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            JobResult::PeerLookup(text, result)
        });
    }
}
