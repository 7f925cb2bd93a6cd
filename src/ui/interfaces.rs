//! The address pickers: a small menu beside every field that takes a local address (a
//! bind address, the client's source address, a multicast interface) and beside the UDP
//! target (broadcast addresses), listing this machine's interfaces by name with their
//! addresses. Free text stays accepted: the picker only fills the field.
//!
//! The list is read on a helper thread (the window never makes a socket call): the first
//! time a picker opens, and again on *Refresh*. Every picker shares the one list.

use std::net::IpAddr;
use std::sync::Mutex;

use egui::{RichText, Ui};

use crate::engine::interfaces::{self, InterfaceAddr, WILDCARDS};
use crate::sync::lock;

use super::errors;
use super::i18n::Texts;
use crate::lang::Lang;

/// The shared list: the last answer and whether a read is under way.
#[derive(Default)]
struct Listing {
    answer: Option<Result<Vec<InterfaceAddr>, String>>,
    reading: bool,
}

static LISTING: Mutex<Listing> = Mutex::new(Listing {
    answer: None,
    reading: false,
});

/// Reads the interfaces again on a helper thread (unless a read is under way) and
/// repaints `ctx` when the answer is in.
pub fn refresh(ctx: &egui::Context, lang: Lang) {
    {
        let mut listing = lock(&LISTING);
        if listing.reading {
            return;
        }
        listing.reading = true;
    }
    let ctx = ctx.clone();
    let spawned = crate::sync::spawn("sockscope-interfaces", move || {
        // Ends the read even if listing panics (the thread helper catches the panic).
        let done = ReadDone(ctx, lang);
        let answer = interfaces::list().map_err(|e| errors::error_text(lang, &e));
        lock(&LISTING).answer = Some(answer);
        drop(done);
    });
    if let Err(e) = spawned {
        let mut listing = lock(&LISTING);
        listing.answer = Some(Err(e.to_string()));
        listing.reading = false;
    }
}

/// Marks the read finished when dropped, with an error answer if none came, and repaints.
struct ReadDone(egui::Context, Lang);

impl Drop for ReadDone {
    fn drop(&mut self) {
        let mut listing = lock(&LISTING);
        listing.reading = false;
        if listing.answer.is_none() {
            listing.answer = Some(Err(self.1.texts().interfaces_failed.into()));
        }
        drop(listing);
        self.0.request_repaint();
    }
}

/// The last list read (None before the first read) and whether a read is under way.
pub fn snapshot() -> (Option<Result<Vec<InterfaceAddr>, String>>, bool) {
    let listing = lock(&LISTING);
    (listing.answer.clone(), listing.reading)
}

/// Which addresses a picker offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickerKind {
    /// An address to bind: 0.0.0.0, ::, 127.0.0.1, ::1 and every interface address.
    Bind,
    /// An interface for multicast: its name or one of its addresses.
    Interface,
    /// A UDP destination: 255.255.255.255 and each interface's broadcast address, with
    /// `port`, plus the multicast groups given.
    Broadcast {
        /// The port to put after the address.
        port: u16,
    },
}

/// A "▼" menu that puts the picked address into `value`; true when it did.
pub fn picker_ui(
    ui: &mut Ui,
    t: &Texts,
    lang: Lang,
    id: &str,
    value: &mut String,
    kind: PickerKind,
    groups: &[IpAddr],
) -> bool {
    let mut picked = None;
    ui.push_id(id, |ui| {
        // Inside a popup (the Advanced panel) the list is a sub-menu, so opening it does
        // not close the panel.
        let open = |ui: &mut Ui, add: &mut dyn FnMut(&mut Ui)| {
            if egui::containers::menu::is_in_menu(ui) {
                egui::containers::menu::SubMenuButton::new("▼")
                    .ui(ui, |ui| add(ui))
                    .0
            } else {
                super::widgets::panel_menu(ui, "▼", |ui| add(ui))
            }
        };
        open(ui, &mut |ui: &mut Ui| {
            let (answer, reading) = snapshot();
            if answer.is_none() && !reading {
                refresh(ui.ctx(), lang);
            }
            ui.horizontal(|ui| {
                ui.label(RichText::new(t.interfaces).strong());
                if ui.small_button(t.interfaces_refresh).clicked() {
                    refresh(ui.ctx(), lang);
                }
                if reading {
                    ui.label(RichText::new(t.interfaces_reading).color(egui::Color32::GRAY));
                }
            });
            ui.separator();
            let mut offer = |ui: &mut Ui, text: String, note: String| {
                let shown = if note.is_empty() {
                    text.clone()
                } else {
                    format!("{text}   {note}")
                };
                if ui.button(shown).clicked() {
                    picked = Some(text);
                    ui.close();
                }
            };
            match kind {
                PickerKind::Bind => {
                    let notes = [
                        t.interfaces_any_v4,
                        t.interfaces_any_v6,
                        t.interfaces_loopback,
                        t.interfaces_loopback,
                    ];
                    for (address, note) in WILDCARDS.iter().zip(notes) {
                        offer(ui, (*address).to_string(), note.to_string());
                    }
                }
                PickerKind::Broadcast { port } => {
                    offer(
                        ui,
                        format!("255.255.255.255:{port}"),
                        t.broadcast.to_string(),
                    );
                    for group in groups {
                        let text = match group {
                            IpAddr::V4(g) => format!("{g}:{port}"),
                            IpAddr::V6(g) => format!("[{g}]:{port}"),
                        };
                        offer(ui, text, t.multicast.to_string());
                    }
                }
                PickerKind::Interface => {}
            }
            match &answer {
                Some(Ok(list)) => {
                    let mut names: Vec<&str> = Vec::new();
                    for a in list {
                        match kind {
                            // A link-local address binds only with its scope, which the
                            // address field does not carry: offered for interfaces only.
                            PickerKind::Bind
                                if matches!(a.ip, IpAddr::V6(v6) if v6.is_unicast_link_local()) => {}
                            PickerKind::Bind => offer(ui, a.ip.to_string(), a.name.clone()),
                            PickerKind::Interface => {
                                if !names.contains(&a.name.as_str()) {
                                    names.push(&a.name);
                                    offer(ui, a.name.clone(), String::new());
                                }
                                offer(ui, a.ip.to_string(), a.name.clone());
                            }
                            PickerKind::Broadcast { port } => {
                                if let Some(b) = a.broadcast {
                                    offer(
                                        ui,
                                        format!("{b}:{port}"),
                                        format!("{} {}", t.broadcast, a.name),
                                    );
                                }
                            }
                        }
                    }
                }
                Some(Err(message)) => {
                    ui.label(RichText::new(message).color(super::widgets::ERROR_COLOR));
                }
                None => {}
            }
        })
        .on_hover_text(t.interfaces_tip);
    });
    match picked {
        Some(text) => {
            *value = text;
            true
        }
        None => false,
    }
}
