//! TLS in the connection panel: what a running TLS session told us ([`TlsFacts`]), the
//! line under the connection row that says how the session trusts or presents
//! certificates (a red marker while a client accepts any certificate, a server's
//! fingerprint with a Copy button), and the TLS options of the Advanced pop-up.

use egui::{Color32, RichText, TextEdit, Ui};

use crate::lang::Lang;

use super::action::UiAction;
use super::files::DialogPurpose;
use super::settings::tls::{ServerCertChoice, TlsSettings, TlsVersionChoice};
use super::settings::{Field, Mode};
use super::widgets::{ERROR_COLOR, OK_COLOR};

/// What the running (or last) TLS session told the window, for the connection panel.
/// Reset at every start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsFacts {
    /// The session was started with TLS.
    pub on: bool,
    /// Client: it was started with "Accept any certificate" (and no pin).
    pub accept_any: bool,
    /// The last completed handshake: protocol ("TLS 1.3") and cipher suite.
    pub negotiated: Option<(String, String)>,
    /// Server: its certificate's SHA-256 fingerprint and whether it was made at start.
    pub identity: Option<(String, bool)>,
    /// The extra CA file that could not be used at the last start, and why.
    pub ca_problem: Option<(String, String)>,
}

/// The line under the connection row while TLS is ticked (TCP modes): how the client
/// trusts the server, or the server's certificate with its fingerprint to copy; what
/// the handshake agreed on. Red while a client accepts any certificate.
pub fn tls_line_ui(
    ui: &mut Ui,
    lang: Lang,
    mode: Mode,
    tls: &TlsSettings,
    facts: &TlsFacts,
    running: bool,
) {
    let t = lang.texts();
    ui.horizontal(|ui| match mode {
        Mode::TcpClient => {
            if running && facts.accept_any {
                ui.label(
                    RichText::new(t.tls_accepting_any)
                        .color(ERROR_COLOR)
                        .strong(),
                )
                .on_hover_text(t.tls_accept_any_tip);
            } else if !running && tls.accept_any && tls.pin.trim().is_empty() {
                ui.label(RichText::new(t.tls_will_accept_any).color(ERROR_COLOR))
                    .on_hover_text(t.tls_accept_any_tip);
            } else if !tls.pin.trim().is_empty() {
                ui.label(t.tls_trust_pinned).on_hover_text(t.tls_pin_tip);
            } else if tls.extra_ca().is_some() {
                ui.label(t.tls_trust_system_ca);
            } else {
                ui.label(t.tls_trust_system);
            }
            negotiated_ui(ui, lang, facts, running);
        }
        Mode::TcpServer => {
            match (&facts.identity, running) {
                (Some((fingerprint, _)), true) => {
                    if ui
                        .small_button(t.tls_copy)
                        .on_hover_text(t.tls_copy_tip)
                        .clicked()
                    {
                        ui.ctx().copy_text(fingerprint.clone());
                    }
                    let l = ui.label(format!("{}:", t.tls_server_fingerprint));
                    ui.add(
                        egui::Label::new(RichText::new(fingerprint).monospace().color(OK_COLOR))
                            .truncate(),
                    )
                    .labelled_by(l.id)
                    .on_hover_text(t.tls_copy_tip);
                }
                _ => {
                    let what = match tls.server_cert {
                        ServerCertChoice::SelfSigned => t.tls_server_self,
                        ServerCertChoice::Pem => t.tls_server_pem,
                    };
                    ui.label(what);
                    ui.label(RichText::new(format!("({})", t.tls_more)).color(Color32::GRAY));
                }
            }
            negotiated_ui(ui, lang, facts, running);
        }
        Mode::Udp => {}
    });
}

/// "· TLS 1.3, TLS13_AES_256_GCM_SHA384" once a handshake completed (a TLS client that
/// is connecting says the handshake is on its way).
fn negotiated_ui(ui: &mut Ui, lang: Lang, facts: &TlsFacts, running: bool) {
    let t = lang.texts();
    if !running {
        if !facts.on {
            ui.label(RichText::new(format!("({})", t.tls_more)).color(Color32::GRAY));
        }
        return;
    }
    match &facts.negotiated {
        Some((protocol, suite)) => {
            ui.separator();
            ui.label(RichText::new(protocol).color(OK_COLOR).strong());
            ui.add(egui::Label::new(RichText::new(suite).color(Color32::GRAY)).truncate());
        }
        None if facts.identity.is_none() => {
            ui.separator();
            ui.label(RichText::new(t.tls_handshaking).color(Color32::GRAY));
        }
        None => {}
    }
}

/// A labelled one-line field with its problem beside it in red.
#[allow(clippy::too_many_arguments)]
fn field(
    ui: &mut Ui,
    label: &str,
    value: &mut String,
    width: f32,
    hint: &str,
    tip: &str,
    problem: Option<&str>,
    picker: Option<(&str, DialogPurpose, &mut Vec<UiAction>)>,
) {
    ui.horizontal(|ui| {
        let l = ui.label(label);
        let mut edit = TextEdit::singleline(value)
            .desired_width(width)
            .hint_text(hint);
        if problem.is_some() {
            edit = edit.text_color(ERROR_COLOR);
        }
        ui.add(edit).labelled_by(l.id).on_hover_text(tip);
        if let Some((text, purpose, actions)) = picker
            && ui.button(text).on_hover_text(tip).clicked()
        {
            actions.push(UiAction::OpenDialog(purpose));
        }
        if let Some(problem) = problem {
            ui.label(RichText::new(format!("! {problem}")).color(ERROR_COLOR));
        }
    });
}

/// The versions picker: three choices in a row.
fn versions_ui(ui: &mut Ui, lang: Lang, value: &mut TlsVersionChoice) {
    let t = lang.texts();
    ui.horizontal(|ui| {
        ui.label(t.tls_versions);
        for choice in TlsVersionChoice::ALL {
            ui.selectable_value(value, choice, choice.label(t));
        }
    });
}

/// The TLS part of the Advanced pop-up for the TCP client and server.
pub fn tls_advanced_ui(
    ui: &mut Ui,
    lang: Lang,
    mode: Mode,
    tls: &mut TlsSettings,
    errors: &[(Field, &'static str)],
    facts: &TlsFacts,
    actions: &mut Vec<UiAction>,
) {
    let t = lang.texts();
    let problem = |which: Field| errors.iter().find(|(f, _)| *f == which).map(|(_, m)| *m);
    ui.label(RichText::new(t.tls_options).strong());
    let Some(switch) = tls.switch(mode) else {
        return;
    };
    ui.checkbox(switch, t.tls_use).on_hover_text(t.tls_tip);
    let on = *switch;
    ui.add_enabled_ui(on, |ui| match mode {
        Mode::TcpClient => {
            field(
                ui,
                t.tls_sni,
                &mut tls.sni,
                150.0,
                t.tls_sni_hint,
                t.tls_sni_tip,
                problem(Field::TlsSni),
                None,
            );
            field(
                ui,
                t.tls_alpn,
                &mut tls.client_alpn,
                150.0,
                "h2, http/1.1",
                t.tls_alpn_tip,
                problem(Field::TlsAlpn),
                None,
            );
            versions_ui(ui, lang, &mut tls.client_versions);
            let color = if tls.accept_any {
                ERROR_COLOR
            } else {
                ui.visuals().text_color()
            };
            ui.checkbox(
                &mut tls.accept_any,
                RichText::new(t.tls_accept_any).color(color),
            )
            .on_hover_text(t.tls_accept_any_tip);
            field(
                ui,
                t.tls_pin,
                &mut tls.pin,
                250.0,
                t.tls_pin_hint,
                t.tls_pin_tip,
                problem(Field::TlsPin),
                None,
            );
            let ca_problem = facts
                .ca_problem
                .as_ref()
                .filter(|(path, _)| *path == tls.ca_file)
                .map(|(_, why)| why.as_str());
            field(
                ui,
                t.tls_ca_file,
                &mut tls.ca_file,
                200.0,
                "ca.pem",
                t.tls_ca_tip,
                problem(Field::TlsCaFile).or(ca_problem),
                Some((t.choose, DialogPurpose::TlsCaFile, actions)),
            );
        }
        Mode::TcpServer => {
            ui.horizontal(|ui| {
                ui.label(t.tls_certificate);
                ui.selectable_value(
                    &mut tls.server_cert,
                    ServerCertChoice::SelfSigned,
                    t.tls_self_signed,
                );
                ui.selectable_value(&mut tls.server_cert, ServerCertChoice::Pem, t.tls_pem_files);
            });
            match tls.server_cert {
                ServerCertChoice::SelfSigned => field(
                    ui,
                    t.tls_names,
                    &mut tls.names,
                    200.0,
                    "localhost, 127.0.0.1",
                    t.tls_names_tip,
                    problem(Field::TlsNames),
                    None,
                ),
                ServerCertChoice::Pem => {
                    field(
                        ui,
                        t.tls_cert_file,
                        &mut tls.cert_file,
                        200.0,
                        "cert.pem",
                        t.tls_cert_tip,
                        problem(Field::TlsCertFile),
                        Some((t.choose, DialogPurpose::TlsCertFile, &mut *actions)),
                    );
                    field(
                        ui,
                        t.tls_key_file,
                        &mut tls.key_file,
                        200.0,
                        "key.pem",
                        t.tls_key_tip,
                        problem(Field::TlsKeyFile),
                        Some((t.choose, DialogPurpose::TlsKeyFile, &mut *actions)),
                    );
                }
            }
            field(
                ui,
                t.tls_alpn,
                &mut tls.server_alpn,
                150.0,
                "h2, http/1.1",
                t.tls_server_alpn_tip,
                problem(Field::TlsAlpn),
                None,
            );
            versions_ui(ui, lang, &mut tls.server_versions);
        }
        Mode::Udp => {}
    });
}
