//! UI text in English and 简体中文.
//!
//! Every visible string lives here as a field of [`Texts`], one table per language, so a
//! missing translation is a compile error rather than an English word in a Chinese window.

use serde::{Deserialize, Serialize};

/// The UI language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The language the system asks for: Chinese when the locale says `zh…`, else English.
    pub fn from_system() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"] {
            if let Ok(value) = std::env::var(var) {
                if value.is_empty() {
                    continue;
                }
                return Lang::from_locale(&value);
            }
        }
        Lang::En
    }

    /// Chinese for locales such as `zh_CN.UTF-8` or `zh-Hans`, English otherwise.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The table of strings for this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

macro_rules! texts {
    ($($key:ident: $en:expr, $zh:expr;)*) => {
        /// All UI strings of one language.
        pub struct Texts {
            $(#[doc = $en] pub $key: &'static str,)*
        }
        /// English strings.
        pub const EN: Texts = Texts { $($key: $en,)* };
        /// Simplified Chinese strings.
        pub const ZH: Texts = Texts { $($key: $zh,)* };
    };
}

texts! {
    app_title: "Sockscope — network debugging assistant", "Sockscope 网络调试助手";
    language: "Language", "语言";
    connection: "Connection", "连接设置";
    mode: "Mode", "模式";
    mode_client: "TCP client", "TCP 客户端";
    mode_server: "TCP server", "TCP 服务器";
    mode_udp: "UDP", "UDP";
    local_host: "Local address", "本地地址";
    local_port: "Local port", "本地端口";
    remote_host: "Remote host", "远程主机";
    remote_port: "Remote port", "远程端口";
    udp_peer: "Default peer (host:port)", "默认目标 (主机:端口)";
    connect: "Connect", "连接";
    disconnect: "Disconnect", "断开";
    listen: "Listen", "开始监听";
    stop: "Stop", "停止";
    open: "Open", "打开";
    close: "Close", "关闭";
    advanced: "Advanced", "高级选项";
    backlog: "Listen backlog", "监听队列长度";
    max_clients: "Client limit", "最大客户端数";
    connect_timeout: "Connect timeout (ms)", "连接超时 (毫秒)";
    recv_buffer: "UDP receive buffer (KiB)", "UDP 接收缓冲 (KiB)";
    view_cap: "View cap (MiB)", "显示缓存上限 (MiB)";
    status_idle: "Idle", "空闲";
    status_connecting: "Connecting to", "正在连接";
    status_connected: "Connected", "已连接";
    status_listening: "Listening on", "正在监听";
    status_bound: "UDP open on", "UDP 已绑定";
    status_stopped: "Stopped", "已停止";
    status_stopping: "Stopping…", "正在停止…";
    try_connect: "connect with", "可用此命令连接";
    receive: "Receive", "接收区";
    view_text: "Text", "文本";
    view_hex: "Hex", "十六进制";
    view_both: "Both", "两者";
    encoding: "Encoding", "编码";
    framing: "Framing", "分帧";
    frame_as_read: "As read", "按读取";
    frame_line: "Line (\\n)", "按行 (\\n)";
    frame_crlf: "CRLF", "CRLF";
    frame_idle: "Idle 20 ms", "空闲 20 毫秒";
    pause: "Pause", "暂停";
    resume: "Resume", "继续";
    clear: "Clear", "清空";
    auto_scroll: "Auto-scroll", "自动滚动";
    compare: "Compare GBK / UTF-8", "对比 GBK / UTF-8";
    filter: "Filter", "过滤";
    filter_hint: "text, or hex with the Hex box", "文本，勾选十六进制则按字节";
    filter_hex: "Match hex", "按十六进制匹配";
    copy_hex: "Copy hex", "复制十六进制";
    copy_text: "Copy text", "复制文本";
    no_records: "Nothing received yet.", "尚未收到数据。";
    paused_note: "paused: what you see stays; new data is counted and logged, and kept while the view has room", "已暂停：当前内容保持不变；新数据照常计数和记录日志，显示缓存有空间时保留";
    selected: "Selected record", "选中的记录";
    select_hint: "Click a record to see all of its bytes here.", "点击一条记录，在此查看全部字节。";
    invalid_bytes: "invalid bytes", "无效字节";
    send: "Compose", "发送区";
    send_encoding: "Send encoding", "发送编码";
    send_button: "Send", "发送";
    send_input: "Data to send", "待发送数据";
    send_hint: "Ctrl+Enter sends · Ctrl+Up/Down: history", "Ctrl+Enter 发送 · Ctrl+上/下：历史";
    send_text: "as text", "文本发送";
    send_hex: "as hex", "十六进制发送";
    escapes: "Escapes (\\r \\n \\xNN)", "转义 (\\r \\n \\xNN)";
    line_ending: "Line ending", "行尾";
    checksum: "Checksum", "校验";
    history: "History", "历史";
    target: "Send to", "发送目标";
    target_all: "All clients", "所有客户端";
    target_selected: "Selected clients", "选中的客户端";
    target_peer: "Default peer", "默认目标";
    target_selected_peers: "Ticked peers", "选中的对端";
    hex_ok: "bytes", "字节";
    nothing_to_send: "Nothing to send: not connected.", "无法发送：未连接。";
    none_selected: "No client is ticked in the list: tick one, or send to all.", "列表中没有勾选客户端：请勾选，或发送给全部。";
    bind_ip: "Use an IP address (e.g. 0.0.0.0, ::, 127.0.0.1) or localhost", "请填写 IP 地址（如 0.0.0.0、::、127.0.0.1）或 localhost";
    clients: "Clients", "客户端";
    peers: "UDP peers", "UDP 对端";
    address: "Address", "地址";
    since: "Since", "连接时间";
    bytes_in: "In", "收";
    bytes_out: "Out", "发";
    last_activity: "Last", "最后活动";
    kick: "Kick", "断开此客户端";
    select_all: "Select all", "全选";
    select_none: "None", "全不选";
    no_clients: "No clients yet.", "暂无客户端。";
    rx: "RX", "收";
    tx: "TX", "发";
    msgs: "msgs", "条";
    records: "records", "条记录";
    shown: "shown", "显示";
    dropped_from_view: "dropped from view", "已移出显示";
    decode_errors: "decode errors", "解码错误";
    udp_dropped: "UDP dropped", "UDP 丢弃";
    per_second: "/s", "/秒";
    invalid_port: "Port must be a number from 0 to 65535", "端口必须是 0 到 65535 之间的数字";
    invalid_remote_port: "Port must be a number from 1 to 65535", "端口必须是 1 到 65535 之间的数字";
    empty_host: "Enter a host name or address", "请输入主机名或地址";
    invalid_number: "Enter a whole number", "请输入整数";
    invalid_peer: "Use host:port, e.g. 127.0.0.1:9001", "格式为 主机:端口，例如 127.0.0.1:9001";
    joined: "client joined", "客户端已连接";
    info_connected: "connected", "已连接";
    info_listening: "listening on", "开始监听";
    refused_limit: "refused: client limit reached", "已拒绝：客户端数已达上限";
    info_error: "error", "错误";
    closed: "closed", "已关闭";
    error: "Error", "错误";
    save_log: "Save log…", "保存日志…";
    variables: "Variables {counter} {time} {rand:N} {len}", "变量 {counter} {time} {rand:N} {len}";
    every_ms: "Repeat every (ms)", "定时发送间隔 (毫秒)";
    times: "times", "次数";
    start_repeat: "Start repeat", "开始定时发送";
    stop_repeat: "Stop repeat", "停止定时发送";
    sent: "sent", "已发送";
    file: "File", "文件";
    chunk: "Chunk (B)", "分块 (字节)";
    chunk_delay: "Delay (ms)", "间隔 (毫秒)";
    cancel: "Cancel", "取消";
    send_file: "Send file…", "发送文件…";
    send_path: "Send this file", "发送该文件";
    command_name: "Name", "名称";
    save_command: "Save compose box as command", "将发送框保存为快捷指令";
    commands_file: "JSON file", "JSON 文件";
    import: "Import…", "导入…";
    export: "Export…", "导出…";
    no_commands: "No quick commands yet: type something in Compose and save it here.", "暂无快捷指令：在发送区输入内容后在此保存。";
    edit: "Edit", "编辑";
    delete: "Delete", "删除";
    command_data: "Data", "数据";
    match_any: "Any data", "任意数据";
    match_exact: "Exactly", "完全相同";
    match_contains: "Contains", "包含";
    match_starts: "Starts with", "开头为";
    match_regex: "Regex", "正则表达式";
    match_hex: "Hex pattern (??)", "十六进制模式 (??)";
    action_reply: "Reply", "回复";
    action_close: "Close connection", "关闭连接";
    action_reply_close: "Reply, then close", "回复后关闭";
    auto_reply_on: "Auto-reply on", "启用自动回复";
    echo: "Echo everything", "原样回显";
    presets: "Presets", "预设";
    add_rule: "Add rule", "添加规则";
    rule_name: "Rule", "规则";
    hits: "hits", "命中";
    pattern: "Pattern", "匹配内容";
    delay_ms: "Delay (ms)", "延迟 (毫秒)";
    reply: "Reply", "回复内容";
    tab_commands: "Quick commands", "快捷指令";
    tab_auto_reply: "Auto-reply", "自动回复";
    log_file: "Log file", "日志文件";
    log_format: "Format", "格式";
    choose: "Choose…", "选择…";
    record: "Record", "开始记录";
    stop_recording: "Stop recording", "停止记录";
    recording_to: "Recording to", "正在记录到";
    recorded: "Recording finished:", "记录已完成：";
    recording_failed: "Recording stopped", "记录已停止";
}
