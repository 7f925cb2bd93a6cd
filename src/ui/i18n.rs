//! UI text in English and 简体中文.
//!
//! Every visible string lives here as a field of [`Texts`], one table per language, so a
//! missing translation is a compile error rather than an English word in a Chinese window.

pub use crate::lang::Lang;

impl Lang {
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
    frame_idle: "Idle gap", "空闲间隔";
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
    auto_reply_tip: "Answer matching data from the engine's reader threads (rules below). Off at every start.", "由接收线程按下方规则自动应答。每次启动时关闭。";
    big_endian: "Big-endian", "大端";
    cannot_create: "cannot create", "无法创建";
    cannot_import: "cannot import", "无法导入";
    cannot_dialog: "cannot open a file dialog", "无法打开文件对话框";
    cannot_job: "cannot start a file job", "无法启动文件任务";
    clear_filter: "Clear the filter", "清除过滤";
    close_tab: "Close tab (Ctrl+W): stops its session and finishes its log", "关闭标签页 (Ctrl+W)：停止其会话并完成日志";
    compare_tip: "Each character under the bytes that made it, read as GBK and as UTF-8; invalid bytes in red", "按 GBK 和 UTF-8 分别解读，每个字符显示在其字节下方；无效字节为红色";
    dismiss: "Dismiss", "关闭提示";
    escapes_tip: "Type \\r \\n \\t \\\\ \\0 \\xNN for control bytes", "用 \\r \\n \\t \\\\ \\0 \\xNN 输入控制字节";
    exported: "exported commands:", "已导出指令：";
    imported: "imported commands:", "已导入指令：";
    file_path_first: "Type a file path first, or use Send file…", "请先填写文件路径，或点“发送文件…”";
    fix_fields_first: "Fix the fields marked in red first", "请先修正标红的字段";
    fix_input_first: "Fix the data first (the problem is shown below the box)", "请先修正待发送数据（问题显示在输入框下方）";
    frame_bytes: "Bytes", "字节数";
    frame_check: "Frame check", "帧校验";
    frame_fixed: "Fixed length", "固定长度";
    frame_length_prefix: "Length prefix", "长度前缀";
    framing_tip: "How a TCP stream is cut into records: as each read arrives, by line, by idle time, fixed length, or a length field", "TCP 数据流如何切分为记录：按读取、按行、按空闲时间、固定长度或长度字段";
    header_bytes: "Header (B)", "帧头 (字节)";
    idle_ms: "Idle (ms)", "空闲 (毫秒)";
    info_bound: "UDP open on", "UDP 已绑定";
    length_counts_all: "Length counts whole frame", "长度含整帧";
    length_width: "Length field", "长度字段";
    local_port_tip: "0 picks any free port; the port actually bound is shown in the status", "填 0 由系统选择空闲端口；实际端口显示在状态栏";
    remote_port_tip: "The server's port, 1–65535", "服务器端口，1–65535";
    log_file_tip: "Every byte of the session is written here while recording; the format follows the menu", "记录时会话的每个字节都写入此文件；格式见右侧菜单";
    move_up: "Move up", "上移";
    move_down: "Move down", "下移";
    move_left: "Move left", "左移";
    move_right: "Move right", "右移";
    new_tab: "New tab (Ctrl+T)", "新建标签页 (Ctrl+T)";
    no_dialog: "no file dialog is available here; using the path field", "此处无法显示文件对话框，改用路径栏";
    preset_echo_ok: "Answer every message (\"ok, 问题正在处理中...\", GBK)", "应答每条消息（“ok, 问题正在处理中...”，GBK）";
    preset_close_on_exit: "Close the connection on \"exit\"", "收到 “exit” 时关闭连接";
    rename: "Rename", "重命名";
    rule_action: "Then", "动作";
    rule_enabled_tip: "Rule on / off", "启用 / 停用该规则";
    rule_match: "Match", "匹配方式";
    save_log_tip: "Write what the view holds now to a file", "将当前显示的内容写入文件";
    saved: "saved", "已保存";
    settings_menu: "Settings", "设置";
    settings_unreadable: "The stored settings could not be read; they are left as they are and this run's settings will not be saved.", "无法读取已保存的设置；原设置保持不变，本次运行的设置不会保存。";
    stop_first: "Stop the session first", "请先停止会话";
    tab_client: "Client", "客户端";
    tab_server: "Server", "服务器";
    tab_running: "Running", "运行中";
    tab_stopped: "Stopped", "已停止";
    tab_tip: "Double-click to rename; right-click for more", "双击重命名；右键查看更多";
    target_selected_tip: "Tick rows in the list on the right", "在右侧列表中勾选";
    theme: "Theme", "主题";
    theme_system: "System", "跟随系统";
    theme_light: "Light", "浅色";
    theme_dark: "Dark", "深色";
    udp_peer_tip: "Where \"Default peer\" sends; empty: whoever sent last", "“默认目标”发送到此处；留空则发给最后发来数据的对端";
    variables_tip: "{counter} {time} {rand:N} {len} are replaced in every send; untick to send braces as typed", "每次发送时替换 {counter} {time} {rand:N} {len}；取消勾选则按原样发送花括号";
    view_memory: "View memory", "显示内存";
    view_memory_tip: "One budget for the views of all tabs; the oldest records leave the view (never the log) when it is full", "所有标签页共用的显示内存上限；用满时最早的记录移出显示（日志不受影响）";
    file_hint: "/path/to/firmware.bin", "/路径/固件.bin";
    command_name_hint: "read registers", "读寄存器";
    log_path_hint: "~/sockscope-logs/session.txt", "~/sockscope-logs/会话.txt";
    send_text_hint: "你好 hello\\r\\n", "你好\\r\\n";
    hex_tag: "[hex] ", "[十六进制] ";
    none: "None", "无";
    log_text: "text", "文本";
    log_text_hex: "text-hex", "文本+十六进制";
    log_raw: "raw", "原始字节";
    failed: "failed", "失败";
    eta: "ETA", "预计剩余";
    more_bytes: "more bytes", "字节未显示";
    select_to_see_all: "select the record to see all", "选中该记录查看全部";
    copy_to_see_all: "copy to see all", "复制可得全部";
    oversize: "oversize", "超长";
    invalid_short: "invalid", "个无效";
    job_failed: "a file job failed (internal error)", "文件任务失败（内部错误）";
    crc_ok: "CRC ok", "CRC 正确";
    crc_bad: "CRC bad", "CRC 错误";
    ipv6_only: "IPv6 only", "仅 IPv6";
    ipv6_only_tip: "A :: address takes IPv6 connections only; unticked, IPv4 ones too (on every system)", "地址为 :: 时只接受 IPv6；不勾选时同时接受 IPv4（各系统一致）";
}
