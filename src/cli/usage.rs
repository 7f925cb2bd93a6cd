//! The `--help` text: every command and option, with examples.

/// The `--help` text.
pub const USAGE: &str = "\
Sockscope — network debugging assistant (网络调试助手)

USAGE:
    sockscope [SESSION [SESSION OPTIONS]]... [OPTIONS]

SESSIONS (each opens a tab; repeat to open several):
    server HOST:PORT             TCP server, e.g. `server 0.0.0.0:8989` (port 0 = any free port)
    client HOST:PORT             TCP client, e.g. `client 127.0.0.1:8000`
    udp HOST:PORT                UDP socket, e.g. `udp 0.0.0.0:9000 --peer 127.0.0.1:9001`
    (none)                       the tabs of the last run, stopped; the first time, a TCP
                                 server on 127.0.0.1 (this machine only) and a free port

SESSION OPTIONS (apply to the session they follow; before any session, to the first):
    --peer HOST:PORT             UDP default destination
    --encoding NAME              receive view encoding: utf-8, gbk, gb18030, big5, shift_jis,
                                 euc-kr, utf-16le, utf-16be, windows-1252, ascii
    --view text|hex|both         receive view mode
    --log PATH                   record the session to PATH from the start; the format follows
                                 the extension: .txt .hex .bin .csv .pcapng; an existing file
                                 is kept and the recording goes to PATH-2 (-3, …)
    --log-format NAME            text, text-hex, hexdump, raw, csv or pcapng
    --ipv6-only                  a server or UDP socket on :: takes IPv6 only (default: both)
    --join GROUP[+SOURCE][@IFACE]  UDP: join this multicast group at start, on the interface
                                 named or holding that address (repeatable); +SOURCE for a
                                 source-specific join, e.g. `--join 239.1.2.3@eth0`
    --ttl N                      UDP: TTL / hop limit of datagrams sent to groups (0-255)
    --reconnect[=DELAY[..MAX]]   TCP client: connect again after a loss or a refused attempt,
                                 waiting DELAY (default 1s), doubling up to MAX (default 30s)

TLS (TCP client and server, window or --headless; each option turns TLS on):
    --tls                        TLS on this session: a client checks the server's certificate
                                 against this system's trusted roots; a server without --cert
                                 makes a self-signed certificate for localhost, 127.0.0.1 and
                                 ::1 and prints its SHA-256 fingerprint
    --insecure                   client: accept any certificate (what a strict check says is
                                 still printed)
    --pin SHA256                 client: trust exactly the certificate with this fingerprint
                                 (64 hex digits, colons allowed, as the server prints it)
    --ca FILE                    client: also trust the CA certificates in this PEM file
                                 (repeatable)
    --sni NAME                   client: the server name sent and checked (default: the host)
    --cert FILE --key FILE       server: present this PEM certificate chain and private key
    --alpn LIST                  application protocols, most preferred first: `--alpn
                                 h2,http/1.1`
    --tls-version 1.2|1.3        only this TLS version (default: both)

WITHOUT A WINDOW (no display needed; exit status 0 = ended normally, 1 = failed):
    --headless                   run the one session given with no window: `sockscope
                                 --headless server 0.0.0.0:8989 --log cap.bin`; it ends on
                                 Ctrl+C / SIGTERM, after --duration, or when a client's
                                 connection ends (with --reconnect, it connects again)
    --rules FILE                 auto-reply rules (JSON or TOML: a rules file, or a test plan
                                 with an [auto_reply] table, as the window exports it)
    --duration TIME              stop after TIME: 90, 90s, 500ms, 15m, 2h
    --print text|hex|none        what reaches standard output of each payload (default text)
    --quiet                      no event lines, status line or summary
    --json                       one JSON object per line

TEST PLANS:
    sockscope test PLAN... [--junit OUT.xml] [--target HOST:PORT] [--quiet] [--json]
                                 run test plans (TOML or JSON, see the README); exit status
                                 0 = all passed, 1 = a step failed, 2 = a plan is not valid
    --junit OUT.xml              also write a JUnit XML report
    --target HOST:PORT           the address to connect / listen on / send UDP to instead of
                                 the plan's

OPTIONS:
    --lang en|zh                 UI language (default: the system's)
    --theme system|light|dark    window theme (default: the system's)
    --screenshot PATH            run the sessions, save a PNG of the window to PATH, exit
    --screenshot-delay MS        milliseconds to run before the screenshot (default 500)
    --size WxH                   window size, e.g. 1024x700 (default: the last one, or 1180x760)
    --compare                    open the GBK / UTF-8 compare pane (newest received record)
    --no-persist                 neither read nor write stored settings
    --exit-after-first-frame     print the time to the first drawn frame, then exit
    -h, --help                   print this help
    -V, --version                print the version

EXAMPLES:
    sockscope server 127.0.0.1:9000 client 127.0.0.1:9000 --encoding gbk udp 0.0.0.0:9001
    sockscope --headless server 0.0.0.0:8989 --encoding gbk --log session.txt
    sockscope --headless client 127.0.0.1:8443 --pin 3A:7F:…:C2 --log tls.pcapng
    sockscope test device.toml --junit report.xml
";
