//! The fail-closed guard: what each detector flags, the look-alikes that must
//! pass, and the JSON walkers' paths, unescaping and failure modes.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};
use telemetry_core::guard::{Detector, Violation, detect, scan_json, scan_value, write_json};
use telemetry_core::{Anonymizer, HashKey, HashScope, TelemetrySafe};

/// At least two true positives per detector, each with the detector that
/// must report it (the first in `Detector::ALL` order that fires).
const TRUE_POSITIVES: &[(&str, Detector)] = &[
    // Unix paths.
    ("/home/ana/secret-project", Detector::UnixPath),
    ("/Users/ana/Documents/taxes.pdf", Detector::UnixPath),
    ("/etc/passwd", Detector::UnixPath),
    ("/var/log/syslog", Detector::UnixPath),
    ("/tmp/x", Detector::UnixPath),
    ("/x/y", Detector::UnixPath),
    (
        "failed to open /opt/app/config.toml: denied",
        Detector::UnixPath,
    ),
    ("path=/srv/data", Detector::UnixPath),
    ("(\"/mnt/disk/a\")", Detector::UnixPath),
    ("localhost:/var/backups", Detector::UnixPath),
    ("file:///etc/hosts", Detector::UnixPath),
    ("file://localhost/etc/hosts", Detector::UnixPath),
    ("FILE://LOCALHOST/home/ana/notes.md", Detector::UnixPath),
    (
        "open file://localhost/Users/ana/x failed",
        Detector::UnixPath,
    ),
    ("file://fileserver/share/report.docx", Detector::UnixPath),
    ("//server/share", Detector::UnixPath),
    ("/home/anaïs/café", Detector::UnixPath),
    // After the punctuation, symbols and spaces of any script, and after
    // the letters of scripts written without spaces between words.
    ("‘/home/ana/x’", Detector::UnixPath),
    ("“/var/log/syslog”", Detector::UnixPath),
    ("«/etc/passwd»", Detector::UnixPath),
    ("‹/srv/data›", Detector::UnixPath),
    ("„/opt/app“", Detector::UnixPath),
    ("路径：/home/ana", Detector::UnixPath),
    ("「/etc/hosts」", Detector::UnixPath),
    ("【/mnt/disk】", Detector::UnixPath),
    ("无法打开文件/home/ana/x。", Detector::UnixPath),
    ("ファイル/home/ana/xが見つかりません", Detector::UnixPath),
    ("파일/home/ana/x을 열 수 없음", Detector::UnixPath),
    ("ไม่พบไฟล์/etc/passwd", Detector::UnixPath),
    ("cannot open\u{a0}/etc/passwd", Detector::UnixPath),
    ("\u{3000}/home/ana", Detector::UnixPath),
    ("error —/var/log/x", Detector::UnixPath),
    ("→/usr/local/bin", Detector::UnixPath),
    ("•/srv/x", Detector::UnixPath),
    // Windows paths.
    (r"C:\Users\ana\Desktop", Detector::WindowsPath),
    ("C:/Users/ana", Detector::WindowsPath),
    (r"d:\x", Detector::WindowsPath),
    (r"\\fileserver\share\report.docx", Detector::WindowsPath),
    (r"\Users\ana\AppData", Detector::WindowsPath),
    (
        r"cannot read D:\projects\acme\main.rs",
        Detector::WindowsPath,
    ),
    (r"C:\\Users\\ana", Detector::WindowsPath),
    ("‘d:/x’", Detector::WindowsPath),
    ("«C:\\Users\\ana»", Detector::WindowsPath),
    ("路径：D:\\项目", Detector::WindowsPath),
    // Home directories.
    ("~/notes.md", Detector::HomePath),
    ("~/.ssh/id_ed25519", Detector::HomePath),
    ("~ana/projects", Detector::HomePath),
    ("~ana/", Detector::HomePath),
    (r"~\Documents", Detector::HomePath),
    ("config in ~/.config/app", Detector::HomePath),
    ("‘~/notes.md’", Detector::HomePath),
    ("«~ana/x»", Detector::HomePath),
    ("配置：~/.config/app", Detector::HomePath),
    ("設定は~/.config/appにあります", Detector::HomePath),
    ("설정~/.config/app", Detector::HomePath),
    // E-mail addresses.
    ("ana@example.com", Detector::Email),
    ("contact: a.b+tag@mail.example.co.uk.", Detector::Email),
    ("git@github.com:owner/repo.git", Detector::Email),
    ("ANA.LOPEZ@Example.ORG", Detector::Email),
    ("josé@correo.es", Detector::Email),
    // Payment card numbers (the networks' published test numbers).
    ("4111111111111111", Detector::CreditCard),
    ("4111 1111 1111 1111", Detector::CreditCard),
    ("4111-1111-1111-1111", Detector::CreditCard),
    ("card 5555 5555 5555 4444 exp 12/27", Detector::CreditCard),
    ("378282246310005", Detector::CreditCard),
    ("3782 822463 10005", Detector::CreditCard),
    ("cc=6011111111111117", Detector::CreditCard),
    ("2223003122003222", Detector::CreditCard),
    ("30569309025904", Detector::CreditCard),
    ("3530111333300000", Detector::CreditCard),
    ("4222222222222", Detector::CreditCard),
    ("«4012888888881881»", Detector::CreditCard),
    ("卡号4111111111111111已过期", Detector::CreditCard),
    ("4111111111111111 2024", Detector::CreditCard),
    // IBANs (the registry's examples).
    ("DE89370400440532013000", Detector::Iban),
    ("DE89 3704 0044 0532 0130 00", Detector::Iban),
    ("GB82WEST12345698765432", Detector::Iban),
    ("IBAN: FR14 2004 1010 0505 0001 3M02 606", Detector::Iban),
    ("NL91ABNA0417164300", Detector::Iban),
    ("es9121000418450200051332", Detector::Iban),
    ("NO9386011117947", Detector::Iban),
    ("MT84MALT011000012345MTLCAST001S", Detector::Iban),
    ("LC55HEMM000100010012001200023015", Detector::Iban),
    ("账户：DE89370400440532013000", Detector::Iban),
    ("(BE68539007547034)", Detector::Iban),
    // IPv4.
    ("192.168.1.20", Detector::Ipv4),
    ("10.0.0.1:8080", Detector::Ipv4),
    ("host=127.0.0.1", Detector::Ipv4),
    ("connect to 8.8.8.8.", Detector::Ipv4),
    ("10.0.0.0/8", Detector::Ipv4),
    ("255.255.255.255", Detector::Ipv4),
    ("1.2.3.4", Detector::Ipv4),
    ("::ffff:192.0.2.128", Detector::Ipv4),
    ("‘192.168.1.20’", Detector::Ipv4),
    ("«10.0.0.1»", Detector::Ipv4),
    ("地址：10.0.0.1", Detector::Ipv4),
    ("连接192.168.0.1失败", Detector::Ipv4),
    ("192.168.0.1に接続できません", Detector::Ipv4),
    ("10.0.0.1에서 연결", Detector::Ipv4),
    ("ที่อยู่10.0.0.1", Detector::Ipv4),
    ("（192.168.0.1）", Detector::Ipv4),
    // IPv6.
    ("::1", Detector::Ipv6),
    ("fe80::1%eth0", Detector::Ipv6),
    ("2001:db8::8a2e:370:7334", Detector::Ipv6),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", Detector::Ipv6),
    ("[::1]:443", Detector::Ipv6),
    ("listening on 2001:db8:0:1::42 now", Detector::Ipv6),
    ("1::2", Detector::Ipv6),
    ("‘::1’", Detector::Ipv6),
    ("«fe80::1»", Detector::Ipv6),
    ("地址：2001:db8::1", Detector::Ipv6),
    ("接続先2001:db8::1です", Detector::Ipv6),
    ("주소fe80::1에", Detector::Ipv6),
    // MAC addresses.
    ("00:1a:2b:3c:4d:5e", Detector::MacAddress),
    ("00-1A-2B-3C-4D-5E", Detector::MacAddress),
    ("aa:bb:cc:dd:ee:ff", Detector::MacAddress),
    ("ab-cd-ef-ab-cd-ef", Detector::MacAddress),
    (
        "ether 08:00:27:4e:66:a1  txqueuelen 1000",
        Detector::MacAddress,
    ),
    ("device=3C:22:FB:12:AB:9F", Detector::MacAddress),
    ("‘f0:18:98:aa:bb:cc’", Detector::MacAddress),
    ("MAC地址：00:1A:2B:3C:4D:5E", Detector::MacAddress),
    // URLs with credentials or tokens.
    (
        "https://user:hunter2@example.com/x",
        Detector::UrlCredentials,
    ),
    ("ftp://ana@files.example.com", Detector::UrlCredentials),
    (
        "https://api.example.com/v1?token=abc123",
        Detector::UrlCredentials,
    ),
    (
        "https://x.io/cb#access_token=ya29.a0",
        Detector::UrlCredentials,
    ),
    ("/search?q=rust&API_KEY=123", Detector::UrlCredentials),
    ("?apikey=1&x=2", Detector::UrlCredentials),
    ("?key=abc", Detector::UrlCredentials),
    ("&secret=s", Detector::UrlCredentials),
    ("?Password=p", Detector::UrlCredentials),
    ("?sig=abcd", Detector::UrlCredentials),
    ("?signature=abcd", Detector::UrlCredentials),
    ("?auth=abcd", Detector::UrlCredentials),
    (
        "s3.amazonaws.com/b/o?X-Amz-Signature=f00d",
        Detector::UrlCredentials,
    ),
    ("?client_secret=x", Detector::UrlCredentials),
    (
        "redis://:p4ss@cache.internal:6379",
        Detector::UrlCredentials,
    ),
    // Authorization headers.
    ("Authorization: Bearer abc123", Detector::Authorization),
    ("authorization: bearer x", Detector::Authorization),
    (
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        Detector::Authorization,
    ),
    (
        r#"{"Authorization": "Bearer tok"}"#,
        Detector::Authorization,
    ),
    (
        "Proxy-Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        Detector::Authorization,
    ),
    ("HTTP_AUTHORIZATION=Bearer abc", Detector::Authorization),
    (
        "curl -H 'Authorization: Bearer abc.def-ghi' https://api.example.com",
        Detector::Authorization,
    ),
    ("authorization bearer x", Detector::Authorization),
    (
        "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
        Detector::Authorization,
    ),
    // Password assignments.
    ("password=hunter2", Detector::Password),
    ("PASSWORD=hunter2", Detector::Password),
    ("passwd: s3cret", Detector::Password),
    ("pwd=abc", Detector::Password),
    ("DB_PASSWORD=correct horse", Detector::Password),
    ("--db-password=x", Detector::Password),
    ("spring.datasource.password = changeme", Detector::Password),
    (r#"{"password":"hunter2"}"#, Detector::Password),
    ("password := \"x\"", Detector::Password),
    ("mysql -u root --password='p@ss'", Detector::Password),
    ("user=ana pwd=1234 host=db", Detector::Password),
    ("Password: ********", Detector::Password),
    ("‘password: x’", Detector::Password),
    ("配置 password=abc", Detector::Password),
    // Known secret prefixes.
    (
        "phc_4Ah8cYtM1oQkZ2r3uVw5xY6z7A8b9C0d1E2f3G4h5I6",
        Detector::SecretPrefix,
    ),
    ("sk-proj-4f9Xk2LqZ8", Detector::SecretPrefix),
    ("sk-ant-api03-abcDEF123456", Detector::SecretPrefix),
    ("sk_live_51H8xYzAbCdEfGh", Detector::SecretPrefix),
    (
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        Detector::SecretPrefix,
    ),
    ("gho_abcdefgh1234", Detector::SecretPrefix),
    ("ghs_ABCdefGHIjkl", Detector::SecretPrefix),
    ("github_pat_11ABCDEFG0123456789_abc", Detector::SecretPrefix),
    ("AKIAIOSFODNN7EXAMPLE", Detector::SecretPrefix),
    (
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        Detector::SecretPrefix,
    ),
    ("xoxb-1234567890-abcdefghij", Detector::SecretPrefix),
    ("xoxp-12345678-ABCDEFGH", Detector::SecretPrefix),
    ("token: hf_AbCdEfGhIjKlMnOp", Detector::SecretPrefix),
    ("glpat-x1y2z3w4v5u6", Detector::SecretPrefix),
    ("AIzaSyA1b2C3d4E5f6G7h8", Detector::SecretPrefix),
    // JWTs.
    (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        Detector::Jwt,
    ),
    ("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", Detector::Jwt),
    ("eyJhIjoxfQ.e30.x", Detector::Jwt),
    // High entropy.
    ("Zx8Qp2Lr7Vt4Nw9Ks3Hd6Fb1Jm5Gc0Ya", Detector::HighEntropy),
    (
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        Detector::HighEntropy,
    ),
    (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Detector::HighEntropy,
    ),
    ("D04B64E508B084D7952A0F23F1E4C705", Detector::HighEntropy),
    (
        "session cookie 3q2+7wAAAAB4mK9vQ1Z0cE5yT2tLbW9hZGF0YQ==",
        Detector::HighEntropy,
    ),
    (
        "aws_secret_access_key=puavASIzTNTpr56VySfy2uwBF8g1aYOSRU+SZYyv",
        Detector::HighEntropy,
    ),
];

/// Look-alikes that must pass: labels, versions, numbers, times, ids, model
/// names, MIME types, prose.
const LOOK_ALIKES: &[&str] = &[
    // From the payloads this crate sends.
    "rust",
    "gpu",
    "dot_product",
    "search_vs_grep",
    "grep_full_files",
    "local_path",
    "sentence-transformers",
    "sentence-transformers/all-mpnet-base-v2",
    "sentence-transformers/all-MiniLM-L6-v2",
    "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
    "intfloat/multilingual-e5-large-instruct",
    "Alibaba-NLP/gte-Qwen2-7B-instruct",
    "mixedbread-ai/mxbai-embed-large-v1",
    "nomic-ai/nomic-embed-text-v1.5",
    "jinaai/jina-embeddings-v2-base-code",
    "my-finetune",
    "2026-01-23T12:34:56Z",
    "2026-01-23T12:34:56.123456789Z",
    "2026-01-23T12:34:56+01:00",
    "12:34:56",
    "12:34",
    "d04b64e508b084d7952a0f23f1e4c705",
    "00000000000000000000000000000000",
    "550e8400-e29b-41d4-a716-446655440000",
    "0190f3b4-7c2e-7a8b-9f00-1234567890ab",
    "67E55044-10B1-426F-9247-BB680E5FE0C8",
    "myapp_session_summary",
    // Versions and numbers.
    "v1.2.3",
    "1.2.3",
    "v1.2.3.4",
    "1.2.3.4.5",
    "10.0.19045.1",
    "256.1.1.1",
    "0.75",
    "3.14159",
    "1e-9",
    "-42",
    "1,234,567",
    "lodash@4.17.21",
    "numpy==1.26.4",
    // Long numbers that are not card numbers: timestamps, ISBNs, IMEIs,
    // phone numbers, order numbers, floats, failed checksums.
    "1706012345678",
    "1706012345678901",
    "1706012345678901234",
    "20260123123456",
    "20260123123456789",
    "order #20260123000123",
    "order 100000000000017",
    "9783161484100",
    "ISBN 978-3-16-148410-0",
    "IMEI 490154203237518",
    "+4915112345678",
    "+49 151 12345678",
    "+1 415 555 2671",
    "(415) 555-2671",
    "1 234 567 890 123",
    "1,234,567,890,123",
    "0.4111111111111111",
    "4111111111111111.5",
    "p=0.5555555555554444",
    "4111111111111112",
    "4111-1111-1111-1112",
    "4111 1111 1111 1111 1111",
    "4111 1111-1111 1111",
    "ORD-4111111111111111",
    "5555555555554444a",
    "12345678-1234-1234-1234-123456789012",
    // Not IBANs: failed checksums, unknown countries, wrong lengths.
    "DE89370400440532013001",
    "GB82 WEST 1234 5698 7654 33",
    "XX89370400440532013000",
    "DE8937040044053201300",
    "DE893704004405320130000",
    "DE89 3704 0044 0532 0130 0012",
    "AB12CD34EF56GH78IJ90",
    "ISO8601-2019-amendment-1",
    "build DE12345678901234567890",
    // Slashes that are not absolute paths.
    "/",
    "/tmp",
    "/home",
    "1/2",
    "3/4 of users",
    "and/or",
    "n/a",
    "N/A",
    "tcp/ip",
    "TCP/IP",
    "I/O",
    "km/h",
    "req/s",
    "text/plain",
    "application/vnd.api+json",
    "src/main.rs",
    "./a/b",
    "../a/b",
    "https://example.com/docs/guard",
    "https://github.com/owner/repo",
    "see https://docs.rs/serde/latest/serde/",
    "https://localhost/etc/hosts",
    "profile://localhost/a/b",
    "file://localhost",
    "file://localhost/",
    "file://localhost/tmp",
    "a / b / c",
    "$HOME/.config/app",
    "%APPDATA%\\app",
    "C:",
    "C:\\",
    "a:b",
    // Colons.
    "std::fmt::Display",
    "f32::EPSILON",
    "Vec::<u8>::new",
    "dead::beef",
    "::",
    "ratio 16:9",
    "error: not found",
    "key: value",
    // Not MAC addresses.
    "12:34:56:78",
    "aa:bb:cc:dd:ee",
    "aa:bb:cc:dd:ee:ff:00",
    "aa:bb-cc:dd-ee:ff",
    "0a:1b:2c:3d:4e:5g",
    "00:00:00:00:00:00",
    "ff:ff:ff:ff:ff:ff",
    "12-34-56-78-90",
    "2026-01-23 12:34:56",
    "a1b2c3d4e5f6",
    "cafe-babe-dead-beef",
    "x86_64-unknown-linux-gnu-v2",
    // @ and ~ and ?.
    "@types/node",
    "@ana",
    "user@localhost",
    "image@sha256:abc",
    "~",
    "~/",
    "~5 minutes",
    "~2/3 of users",
    "approx ~ 3",
    "?page=2&sort=asc",
    "?sort_key=name",
    "?token=",
    "monkey=banana",
    // Not credentials: no value, a placeholder, another scheme or word,
    // names that only hold the word, comparisons and paths.
    "Authorization: Bearer",
    "Authorization: Bearer <token>",
    "Authorization: Bearer ${TOKEN}",
    "authorization: basic",
    "WWW-Authenticate: Basic realm=\"api\"",
    "grant_type=authorization_code",
    "Bearer token",
    "Basic auth",
    "missing Authorization header",
    "authorization failed: bearer token expired",
    "preauthorization: basic x",
    "password",
    "password_reset_requested",
    "passwordless_login=true",
    "passwords: 3",
    "password_length=12",
    "min_password_len: 8",
    "pwd_hash: d04b64e508b084d7952a0f23f1e4c705",
    "password=",
    "password: ",
    "password=\"\"",
    "password=&next=1",
    "Password::new()",
    "password == confirm",
    "password != other",
    "password => hash",
    "forgot password?",
    "reset your password.",
    "passwd(5)",
    "OLDPWD=x",
    // Secret-ish words.
    "sk-learn",
    "sk-learn-pipeline",
    "scikit-learn",
    "task-12",
    "xox",
    "xoxo",
    "hf_hub",
    "hf_transformers_cache",
    "AKIA",
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9",
    "phc_",
    "ghp_short",
    // Code and identifiers.
    "c++",
    "C#",
    "F#",
    "x86_64-unknown-linux-gnu",
    "aarch64-apple-darwin",
    "this_is_a_very_long_function_name_for_testing",
    "SomeVeryLongCamelCaseIdentifierName",
    "HTTPServerErrorResponseHandlerV2Factory",
    "TelemetryEventSessionSummaryV2Builder",
    // Long identifiers of letters and digits only, near the shape of random
    // base62 (short words, few vowels).
    "FlushL1DCacheOnContextSwitchOutOfTask",
    "PropertyNameLongHangulSyllableTypeV1",
    "UsesGenericsThatAreAlsoZfWithMap",
    "sceAtracSetHalfwayBufferAndGetID",
    "ENABLE_EXPERIMENTAL_FEATURE_FLAG_XYZ_2",
    "ERR_SSL_PROTOCOL_ERROR_WRONG_VERSION_NUMBER",
    "grep_full_files_with_context_lines_enabled",
    "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "1234567890",
    // Prose.
    "",
    " ",
    "The quick brown fox jumps over the lazy dog.",
    "Search returned 70% fewer tokens than grep, on average.",
    "Model failed to load: out of memory (needed 4.2 GB).",
    "Use the --release flag; see the docs for details.",
    "café, naïve, 東京, emoji 🎉",
    // Letters of scripts written with spaces continue a word, as ASCII
    // letters do; so does a combining accent. Letters of scripts written
    // without spaces end one, except around a `/` between two of them.
    "naïve/and/or",
    "größe/x/y",
    "cafe\u{301}/x/y",
    "версия1.2.3.4",
    "αβγ::1",
    "東京/大阪/名古屋",
    "서울/부산/대구",
    "ข้อมูล/ภาษา/ไทย",
    "版本1.2.3",
    "バージョン1.2.3",
    "路径：/tmp",
    "‘/’",
    "«~»",
    "「12:34:56」",
    "时间2026-01-23T12:34:56Z",
    "「text/plain」",
    "‘and/or’",
    "a - b, c; d: e? f! (g) [h] {i} <j>",
];

#[test]
fn true_positives_fire_their_detector() {
    let mut failures = Vec::new();
    for &(text, expected) in TRUE_POSITIVES {
        let found = detect(text);
        if found != Some(expected) {
            failures.push(format!("{text:?}: expected {expected}, got {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_content_detector_has_at_least_two_true_positives() {
    for detector in Detector::ALL {
        let count = TRUE_POSITIVES.iter().filter(|(_, d)| d == detector).count();
        if *detector == Detector::MalformedJson {
            assert_eq!(count, 0);
        } else {
            assert!(count >= 2, "{detector} has {count} true positives");
        }
    }
}

#[test]
fn look_alikes_pass() {
    let failures: Vec<String> = LOOK_ALIKES
        .iter()
        .filter_map(|text| detect(text).map(|d| format!("{text:?}: flagged as {d}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What the detectors added for Sentry Relay's rules (`@creditcard`,
/// `@iban`, `@mac`, `@password`, bearer tokens) must leave alone, even where
/// an older detector fires (`1.2.3.4` is an IPv4 address).
#[test]
fn payment_mac_and_credential_detectors_leave_ids_times_and_versions_alone() {
    let newer = [
        Detector::CreditCard,
        Detector::Iban,
        Detector::MacAddress,
        Detector::Password,
        Detector::Authorization,
    ];
    let look_alikes = [
        // Order numbers and ids.
        "order 100000000000017",
        "order #20260123000123",
        "ORD-4111111111111111",
        "INV-2026-000123",
        "ticket 3000300130023004",
        // Versions.
        "1.2.3.4",
        "v1.2.3.4",
        "10.0.19045.1",
        "2.6.32-754.el6.x86_64",
        "5.15.0-1034-azure",
        // Times.
        "1706012345678",
        "1706012345678901234",
        "2026-01-23T12:34:56Z",
        "2026-01-23T12:34:56.123456789+01:00",
        "12:34:56",
        "12:34:56:78",
        "01:02:03.456",
        // Dates.
        "2026-01-23",
        "20260123",
        "23/01/2026",
        // Our digests, UUIDs.
        "d04b64e508b084d7952a0f23f1e4c705",
        "550e8400-e29b-41d4-a716-446655440000",
        "0190f3b4-7c2e-7a8b-9f00-1234567890ab",
        // Phone-like counts.
        "1 234 567",
        "1 234 567 890 123",
        "1,234,567,890,123",
        "+1 415 555 2671",
        "+44 20 7946 0958",
        "(415) 555-2671",
        "events: 1234 5678 9012 3456 7",
    ];
    for text in look_alikes {
        let found = detect(text);
        assert!(
            !found.is_some_and(|d| newer.contains(&d)),
            "{text:?}: flagged as {found:?}"
        );
    }
}

#[test]
fn keyed_digests_and_uuids_pass() {
    let anonymizer = Anonymizer::new(&HashKey::from_bytes([3; 32]));
    for i in 0..200_u32 {
        let digest = anonymizer
            .hash(HashScope::Installation, &i.to_le_bytes())
            .unwrap()
            .to_string();
        assert_eq!(detect(&digest), None, "{digest}");
        // UUIDs as the runtime draws them (v4 client ids, v7 event ids):
        // 122 random bits in the 8-4-4-4-12 layout, the version and variant
        // nibbles fixed.
        let bits = anonymizer
            .hash(HashScope::Installation, &(i + 1000).to_le_bytes())
            .unwrap()
            .to_string();
        for version in ['4', '7'] {
            let uuid = format!(
                "{}-{}-{version}{}-a{}-{}",
                &bits[0..8],
                &bits[8..12],
                &bits[13..16],
                &bits[17..20],
                &bits[20..32]
            );
            assert_eq!(detect(&uuid), None, "{uuid}");
        }
    }
}

/// `SplitMix64` (Steele, Lea and Flood, 2014): a seeded generator, so that
/// the measurement below draws the same strings on every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`, by multiplying and shifting (a bias below
    /// 2^-58 for these `n`).
    fn below(&mut self, n: u64) -> usize {
        let scaled = (u128::from(self.next()) * u128::from(n)) >> 64;
        usize::try_from(scaled).unwrap()
    }
}

/// The detection rate of random 32-character base62 tokens (API keys
/// without a known prefix), as the docs of `Detector::HighEntropy` state
/// it: measured over 100,000 seeded strings, rounded to a hundredth of a
/// percent. A change to the detectors that moves it must update the docs.
#[test]
fn random_base62_tokens_are_caught_at_the_documented_rate() {
    const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const TOKENS: usize = 100_000;
    let mut rng = SplitMix64(0x0067_7561_7264_3132);
    let mut missed = Vec::new();
    for _ in 0..TOKENS {
        let token: String = (0..32).map(|_| char::from(BASE62[rng.below(62)])).collect();
        if detect(&token).is_none() {
            missed.push(token);
        }
    }
    // Basis points, rounded.
    let caught = (TOKENS - missed.len()) * 10_000;
    let rate = (caught + TOKENS / 2) / TOKENS;
    assert_eq!(
        format!("{}.{:02}%", rate / 100, rate % 100),
        "99.47%",
        "{} of {TOKENS} missed, such as {:?}",
        missed.len(),
        &missed[..missed.len().min(5)]
    );
}

#[test]
fn detector_names_are_stable_snake_case() {
    let names: Vec<&str> = Detector::ALL.iter().map(|d| d.as_str()).collect();
    assert_eq!(
        names,
        [
            "url_credentials",
            "authorization",
            "password",
            "email",
            "windows_path",
            "unix_path",
            "home_path",
            "jwt",
            "secret_prefix",
            "credit_card",
            "iban",
            "ipv4",
            "ipv6",
            "mac_address",
            "high_entropy",
            "malformed_json",
        ]
    );
    let mut descriptions = BTreeSet::new();
    for detector in Detector::ALL {
        assert_eq!(detector.to_string(), detector.as_str());
        let description = detector.description();
        assert!(!description.is_empty() && !description.contains('\n'));
        assert!(descriptions.insert(description), "{description}");
    }
}

/// The first violation of `json`, which must have one.
fn violation(json: &str) -> Violation {
    scan_json(json.as_bytes()).expect_err(json)
}

#[test]
fn scan_json_names_nested_fields() {
    let cases: &[(&str, &str, Detector)] = &[
        (r#"{"a":"/home/ana/x"}"#, "[key 0]", Detector::UnixPath),
        (
            r#"{"timing":{"avg":1.5,"x":"/home/ana/x"}}"#,
            "[key 0][key 1]",
            Detector::UnixPath,
        ),
        (
            r#"{"tags":["rust","ana@example.com"]}"#,
            "[key 0][1]",
            Detector::Email,
        ),
        (
            r#"{"a":[{"b":[null,true,{"c":"10.0.0.1"}]}]}"#,
            "[key 0][0][key 0][2][key 0]",
            Detector::Ipv4,
        ),
        (r#"[[1,"::1"]]"#, "[0][1]", Detector::Ipv6),
        (r#""~/x""#, "", Detector::HomePath),
        (
            " { \"a\" : [ 1 , -2.5e3 , \"ok\" ] ,\n\t\"b\" : \"C:\\\\x\" } ",
            "[key 1]",
            Detector::WindowsPath,
        ),
    ];
    for &(json, path, detector) in cases {
        assert_eq!(
            violation(json),
            Violation {
                path: path.to_owned(),
                detector
            },
            "{json}"
        );
    }
}

#[test]
fn scan_json_scans_map_keys() {
    let cases: &[(&str, &str, Detector)] = &[
        (
            r#"{"languages":{"rust":3,"/home/ana/x":1}}"#,
            "[key 0][key 1] (key)",
            Detector::UnixPath,
        ),
        (
            r#"{"a":[{"by_user":{"ana@example.com":1}}]}"#,
            "[key 0][0][key 0][key 0] (key)",
            Detector::Email,
        ),
        (r#"{"192.168.0.1":true}"#, "[key 0] (key)", Detector::Ipv4),
    ];
    for &(json, path, detector) in cases {
        let found = violation(json);
        assert_eq!(
            (found.path.as_str(), found.detector),
            (path, detector),
            "{json}"
        );
    }
    // Field names of the event are keys too, and pass.
    assert_eq!(
        scan_json(br#"{"embedding_dimension":384,"local_path_hash":null}"#),
        Ok(())
    );
}

#[test]
fn scan_json_unescapes_before_detecting() {
    let cases: &[(&str, &str, Detector)] = &[
        (r#"{"p":"\/home\/ana\/x"}"#, "[key 0]", Detector::UnixPath),
        (
            r#"{"m":"ana\u0040example.com"}"#,
            "[key 0]",
            Detector::Email,
        ),
        (
            r#"{"w":"C:\\Users\\ana"}"#,
            "[key 0]",
            Detector::WindowsPath,
        ),
        (
            r#"{"q":"say \"\/etc\/passwd\""}"#,
            "[key 0]",
            Detector::UnixPath,
        ),
        (
            r#"{"k":{"\u007e\/notes":1}}"#,
            "[key 0][key 0] (key)",
            Detector::HomePath,
        ),
        (
            r#"{"s":"\ud83c\udf89 ana\u0040example.com"}"#,
            "[key 0]",
            Detector::Email,
        ),
        (r#"{"t":"line\n\/x\/y"}"#, "[key 0]", Detector::UnixPath),
    ];
    for &(json, path, detector) in cases {
        let found = violation(json);
        assert_eq!(
            (found.path.as_str(), found.detector),
            (path, detector),
            "{json}"
        );
    }
    // Keys on the path, escaped or not, are written by position.
    assert_eq!(
        violation(r#"{"n":1,"caf\u00e9":{"a\"b":["\/x\/y"]}}"#).path,
        "[key 1][key 0][0]"
    );
    // Escapes that decode to clean text pass.
    assert_eq!(
        scan_json(br#"{"a\u005fb":"n\/a","c":"tab\there \ud83c\udf89"}"#),
        Ok(())
    );
}

#[test]
fn violations_never_include_the_value() {
    let secrets = [
        "/home/ana/secret-project",
        "ana@example.com",
        "AKIAIOSFODNN7EXAMPLE",
        "192.168.1.20",
    ];
    for secret in secrets {
        let escaped = serde_json::to_string(secret).unwrap();
        for json in [
            format!(r#"{{"field":{escaped}}}"#),
            format!(r#"{{"map":{{{escaped}:1}}}}"#),
            format!(r#"{{"list":[{escaped}]}}"#),
        ] {
            let found = violation(&json);
            let shown = format!("{found} {found:?}");
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains("ana") && !shown.contains("192."), "{shown}");
        }
    }
    let found = violation(r#"{"timing":{"x":"/home/ana/x"}}"#);
    assert_eq!(
        found.to_string(),
        "field `[key 0][key 0]`: looks like an absolute path (unix_path)"
    );
    assert_eq!(
        violation(r#"{"m":{"ana@example.com":1}}"#).to_string(),
        "field `[key 0][key 0] (key)`: looks like an e-mail address (email)"
    );
    assert_eq!(
        violation(r#""10.1.2.3""#).to_string(),
        "the top-level value: looks like an IPv4 address (ipv4)"
    );
}

/// A key that passes the detectors can still be personal (a host name, a
/// user name, a file name): no key is written on a violation's path,
/// wherever it is, so none reaches a log.
#[test]
fn planted_keys_never_appear_in_violations() {
    let planted = [
        "ana-laptop.local",
        "ana",
        "build-server-07",
        "Ana López",
        "secret-project",
        "notes.md",
        "東京",
    ];
    for key in planted {
        let k = serde_json::to_string(key).unwrap();
        for json in [
            // On the path to a value.
            format!(r#"{{"by_host":{{{k}:{{"path":"/home/x/y"}}}}}}"#),
            // At the top level.
            format!(r#"{{{k}:["/home/x/y"]}}"#),
            // Beside a flagged key.
            format!(r#"{{"by_user":{{{k}:1,"ana@example.com":2}}}}"#),
            // Above a flagged key.
            format!(r#"{{"m":{{{k}:{{"10.0.0.1":1}}}}}}"#),
        ] {
            let value: Value = serde_json::from_str(&json).unwrap();
            let found: Vec<Violation> = scan_value(&value)
                .into_iter()
                .chain(scan_json(json.as_bytes()).err())
                .collect();
            assert!(!found.is_empty(), "{json}");
            for violation in found {
                let shown = format!("{violation} {violation:?}");
                assert!(!shown.contains(key), "{json}: {shown}");
                for field in ["by_host", "by_user", "m."] {
                    assert!(!shown.contains(field), "{json}: {shown}");
                }
            }
        }
    }
    assert_eq!(
        violation(r#"{"by_host":{"ana-laptop.local":{"path":"/home/x/y"}}}"#).to_string(),
        "field `[key 0][key 0][key 0]`: looks like an absolute path (unix_path)"
    );
}

#[test]
fn scan_json_fails_closed_on_malformed_input() {
    let cases: &[(&[u8], &str)] = &[
        (b"", ""),
        (b"   ", ""),
        (b"{", ""),
        (b"{\"a\"", ""),
        (b"{\"a\":}", "[key 0]"),
        (b"{\"a\":1,}", ""),
        (b"{\"a\":1 \"b\":2}", ""),
        (b"{a:1}", ""),
        // serde_json refuses a trailing comma before it reads an element,
        // so the place is the array's.
        (b"[1,]", ""),
        (b"[1 2]", ""),
        (b"{\"a\":[1,{\"b\":tru}]}", "[key 0][1][key 0]"),
        (b"{\"a\":nul}", "[key 0]"),
        // It refuses a leading zero while it reads the number: the value's.
        (b"{\"a\":01}", "[key 0]"),
        (b"{\"a\":1.}", "[key 0]"),
        (b"{\"a\":1e}", "[key 0]"),
        (b"{\"a\":-}", "[key 0]"),
        (b"{\"a\":+1}", "[key 0]"),
        (b"{\"a\":\"x}", "[key 0]"),
        (b"{\"a\":\"\\x\"}", "[key 0]"),
        (b"{\"a\":\"\\u12\"}", "[key 0]"),
        (b"{\"a\":\"\\ud800\"}", "[key 0]"),
        (b"{\"a\":\"\\udc00\"}", "[key 0]"),
        (b"{\"a\":\"\\ud800\\u0041\"}", "[key 0]"),
        (b"{\"a\":\"tab\there\"}", "[key 0]"),
        (b"{\"a\":\"\xff\"}", "[key 0]"),
        (b"{\"a\":\"\\u0041\xc3\"}", "[key 0]"),
        (b"{\"\xc3\":1}", "[key 0] (key)"),
        (b"{\"m\":{\"\\q\":1}}", "[key 0][key 0] (key)"),
        (b"{} {}", ""),
        (b"{}x", ""),
        (b"\xef\xbb\xbf{}", ""),
    ];
    for &(json, path) in cases {
        let found = scan_json(json);
        assert_eq!(
            found,
            Err(Violation {
                path: path.to_owned(),
                detector: Detector::MalformedJson
            }),
            "{}",
            String::from_utf8_lossy(json)
        );
        assert!(
            serde_json::from_slice::<Value>(json).is_err(),
            "serde_json accepts {}",
            String::from_utf8_lossy(json)
        );
    }
    assert_eq!(
        violation("{\"a\":\"\\ud800\"}").to_string(),
        "field `[key 0]`: is not well-formed JSON (malformed_json)"
    );
}

#[test]
fn scan_json_limits_nesting_like_serde_json() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(scan_json(nested(127).as_bytes()), Ok(()));
    assert!(serde_json::from_str::<Value>(&nested(127)).is_ok());
    assert_eq!(
        scan_json(nested(128).as_bytes()).map_err(|v| v.detector),
        Err(Detector::MalformedJson)
    );
    assert!(serde_json::from_str::<Value>(&nested(128)).is_err());
    assert_eq!(
        scan_json("[".repeat(100_000).as_bytes()).map_err(|v| v.detector),
        Err(Detector::MalformedJson)
    );
}

#[test]
fn scan_json_accepts_every_valid_scalar() {
    for json in [
        "null",
        "true",
        "false",
        "0",
        "-0",
        "12.5e-3",
        "1E+2",
        "\"\"",
        "{}",
        "[]",
        " [ ] ",
        "{\"\":\"\"}",
    ] {
        assert_eq!(scan_json(json.as_bytes()), Ok(()), "{json}");
    }
}

/// A derived event, filtered and serialized as capture does it.
#[derive(TelemetrySafe)]
#[telemetry(event = "guard_demo")]
struct Demo {
    /// Passed through: the guard is what catches a raw path here.
    label: String,
    /// Hashed: always passes.
    #[telemetry(hash)]
    repository: std::path::PathBuf,
    /// Counted labels.
    #[telemetry(distribution)]
    languages: Vec<String>,
}

#[test]
fn guards_a_filtered_event() {
    let anonymizer = Anonymizer::new(&HashKey::from_bytes([9; 32]));
    let mut event = Demo {
        label: "search_vs_grep".to_owned(),
        repository: "/home/ana/secret-project".into(),
        languages: vec!["rust".into(), "c++".into()],
    };
    let json = serde_json::to_vec(&event.telemetry_view(&anonymizer)).unwrap();
    assert_eq!(scan_json(&json), Ok(()));

    event.label = "/home/ana/secret-project".to_owned();
    let json = serde_json::to_vec(&event.telemetry_view(&anonymizer)).unwrap();
    assert_eq!(
        violation_of(&json),
        ("[key 0]".to_owned(), Detector::UnixPath)
    );

    event.label = "ok".to_owned();
    event.languages.push("ana@example.com".into());
    let json = serde_json::to_vec(&event.telemetry_view(&anonymizer)).unwrap();
    assert_eq!(
        violation_of(&json),
        ("[key 2][key 0] (key)".to_owned(), Detector::Email)
    );
}

fn violation_of(json: &[u8]) -> (String, Detector) {
    let found = scan_json(json).unwrap_err();
    (found.path, found.detector)
}

/// Every detector is linear: long, repetitive strings built to make a
/// scanner re-read its input from each match (as `-sk-sk-…` once did) take
/// milliseconds; a quadratic scanner would hang this test for minutes. No
/// timing is asserted.
#[test]
fn long_adversarial_strings_are_scanned_in_linear_time() {
    let n = 200_000;
    for piece in [
        "sk-",
        "-sk-a",
        "/a",
        "(/a",
        "=/aa",
        "~a",
        "a@",
        "@a.",
        "a://",
        "?a",
        "eyJ",
        ".eyJaaaaaaaaaa",
        "1.",
        "1:",
        "::",
        "a",
        "Ab1-",
        "\\\\a",
        "C:",
        "AKIA",
        "password=",
        "pwd:",
        " =",
        "authorization: ",
        "Authorization: Bearer",
        "4111 ",
        "4-",
        "DE89 ",
        "de89",
        "aa:",
        "0a-",
    ] {
        let text = piece.repeat(n / piece.len());
        let _ = detect(&text);
        let json = serde_json::to_vec(&json!({ "k": text })).unwrap();
        let _ = scan_json(&json);
    }
}

#[test]
fn scan_value_reports_every_violation() {
    let payload = json!({
        "clean": {"model": "sentence-transformers/all-mpnet-base-v2", "n": 3},
        "paths": ["/etc/passwd", "ok", "~/x"],
        "hosts": {"10.0.0.1": {"note": "ana@example.com"}, "web": "::1"},
        "ana@example.com": "/home/ana/x",
    });
    let found: Vec<(String, Detector)> = scan_value(&payload)
        .into_iter()
        .map(|v| (v.path, v.detector))
        .collect();
    let expected = [
        ("[key 0] (key)", Detector::Email),
        ("[key 0]", Detector::UnixPath),
        ("[key 2][key 0] (key)", Detector::Ipv4),
        ("[key 2][key 0][key 0]", Detector::Email),
        ("[key 2][key 1]", Detector::Ipv6),
        ("[key 3][0]", Detector::UnixPath),
        ("[key 3][2]", Detector::HomePath),
    ];
    let expected: Vec<(String, Detector)> =
        expected.iter().map(|&(p, d)| (p.to_owned(), d)).collect();
    assert_eq!(found, expected);
    // The first one is what scan_json reports.
    let bytes = serde_json::to_vec(&payload).unwrap();
    assert_eq!(violation_of(&bytes), expected[0]);
}

#[test]
fn scan_value_handles_deep_values() {
    let mut value = json!("/home/ana/x");
    for _ in 0..1_000 {
        value = json!([value]);
    }
    let found = scan_value(&value);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "[0]".repeat(1_000));
}

#[test]
fn scan_value_agrees_with_scan_json_on_fixed_payloads() {
    let payloads = [
        json!({}),
        json!({"a": 1, "b": [true, null, 2.5], "c": {"d": "rust"}}),
        json!({"a": {"b": {"c": ["x", "/usr/local/bin"]}}}),
        json!({"map": {"sk-proj-4f9Xk2LqZ8": 1, "ok": 2}}),
        json!(["eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", "fine"]),
        json!({"u": "https://a:b@c.example"}),
        json!("plain"),
    ];
    for payload in payloads {
        let bytes = serde_json::to_vec(&payload).unwrap();
        let pretty = serde_json::to_vec_pretty(&payload).unwrap();
        let first = scan_value(&payload).into_iter().next();
        assert_eq!(scan_json(&bytes).err(), first, "{payload}");
        assert_eq!(scan_json(&pretty).err(), first, "{payload}");
    }
}

/// Pieces that make detectors fire, or nearly fire, for the property tests.
const FRAGMENTS: &[&str] = &[
    "/",
    "//",
    "\\",
    "~",
    "@",
    ".",
    ":",
    "::",
    "?",
    "&",
    "=",
    "#",
    " ",
    "home",
    "ana",
    "x",
    "example",
    "com",
    "1",
    "10",
    "255",
    "256",
    "0",
    "fe80",
    "eyJ",
    "hbGci",
    "sk-",
    "ghp_",
    "AKIA",
    "token",
    "key",
    "https://",
    "C:",
    "\"",
    "\n",
    "\u{e9}",
    "\u{1f389}",
    "\u{7f}",
    "Zx8Qp2Lr7Vt4Nw9Ks3Hd6Fb1Jm5Gc0Ya",
    "d04b64e508b084d7952a0f23f1e4c705",
];

/// A string built from fragments and arbitrary characters.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
                any::<char>().prop_map(String::from),
            ],
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Strings embedded as values and keys: both walkers agree on whether
    /// there is a hit, and on the first one; `detect` agrees on the value.
    #[test]
    fn scan_json_and_scan_value_agree(
        value in tricky_string(),
        key in tricky_string(),
        other in tricky_string(),
    ) {
        let payload = json!({
            "event": {"field": value.clone(), "list": [other.clone(), 1]},
            "map": {key.clone(): "ok"},
        });
        let bytes = serde_json::to_vec(&payload).unwrap();
        let all = scan_value(&payload);
        let first = scan_json(&bytes).err();
        prop_assert_eq!(first.is_some(), !all.is_empty());
        prop_assert_eq!(first, all.into_iter().next());

        let alone = serde_json::to_vec(&Value::String(value.clone())).unwrap();
        prop_assert_eq!(
            scan_json(&alone).err().map(|v| v.detector),
            detect(&value)
        );
    }

    /// A violation never shows the value it found, nor a key on its path.
    #[test]
    fn violations_hide_the_value(value in tricky_string()) {
        let needle = format!("{value}\u{1}marker");
        let payload = json!({
            "field": needle,
            "map": {needle.clone(): 1},
            "above": {needle.clone(): {"x": "/home/ana/x"}},
        });
        let bytes = serde_json::to_vec(&payload).unwrap();
        for found in scan_value(&payload).into_iter().chain(scan_json(&bytes).err()) {
            prop_assert!(!found.to_string().contains("marker"));
        }
    }

    /// Arbitrary bytes never panic; what serde_json rejects is refused, and
    /// what it accepts is not called malformed.
    #[test]
    fn scan_json_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let result = scan_json(&bytes);
        check_against_serde_json(&bytes, &result)?;
    }

    /// Valid JSON with a few bytes changed: never panics, and fails closed
    /// whenever serde_json cannot parse it.
    #[test]
    fn scan_json_never_panics_on_damaged_json(
        value in tricky_string(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = serde_json::to_vec(&json!({"a": [value, {"b": 1.5e3}], "c": null})).unwrap();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let result = scan_json(&bytes);
        check_against_serde_json(&bytes, &result)?;
    }
}

/// `scan_json` refuses what `serde_json` cannot parse, calls nothing it
/// parses malformed, and finds a hit wherever `scan_value` does (it may find
/// more: it scans every copy of a duplicated key, the parsed map keeps one).
fn check_against_serde_json(
    bytes: &[u8],
    result: &Result<(), Violation>,
) -> Result<(), TestCaseError> {
    match serde_json::from_slice::<Value>(bytes) {
        Err(_) => prop_assert!(
            result.is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(bytes)
        ),
        Ok(value) => {
            prop_assert!(
                !matches!(result, Err(v) if v.detector == Detector::MalformedJson),
                "refused {:?}",
                String::from_utf8_lossy(bytes)
            );
            if !scan_value(&value).is_empty() {
                prop_assert!(result.is_err());
            }
        }
    }
    Ok(())
}

/// What `write_json` must do with `value`: write exactly what `serde_json`
/// writes and return `true` only when `scan_json` passes those bytes, or
/// return `false` and leave the output alone. Returns what it returned.
fn check_write_json(value: &(impl serde::Serialize + ?Sized)) -> Result<bool, TestCaseError> {
    let mut out = b"head:".to_vec();
    let written = write_json(&mut out, value);
    let Ok(expected) = serde_json::to_vec(value) else {
        prop_assert!(!written);
        prop_assert_eq!(&out, b"head:");
        return Ok(written);
    };
    if written {
        prop_assert_eq!(
            String::from_utf8_lossy(&out[5..]),
            String::from_utf8_lossy(&expected)
        );
        prop_assert_eq!(scan_json(&expected), Ok(()));
        prop_assert!(!out.contains(&b'\n') && !out.contains(&b'\r'));
    } else {
        prop_assert_eq!(&out, b"head:");
    }
    Ok(written)
}

/// A JSON value of strings and keys built from fragments and the detectors'
/// true positives and look-alikes, numbers of every kind, nested a few
/// levels.
fn json_value() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        3 => tricky_string(),
        1 => prop::sample::select(TRUE_POSITIVES).prop_map(|(text, _)| (*text).to_owned()),
        1 => prop::sample::select(LOOK_ALIKES).prop_map(|text| (*text).to_owned()),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text.clone(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    /// The guard's writer and serde_json then `scan_json` agree: the same
    /// bytes, and `true` exactly when the scan passes them (every value
    /// here is one the writer writes itself).
    #[test]
    fn write_json_agrees_with_serde_json_and_scan_json(value in json_value()) {
        let written = check_write_json(&value)?;
        let bytes = serde_json::to_vec(&value).unwrap();
        prop_assert_eq!(written, scan_json(&bytes).is_ok());
    }

    /// The same for a hit or a near miss alone, as a key and as a value.
    #[test]
    fn write_json_agrees_on_single_strings(text in tricky_string()) {
        for value in [
            Value::from(text.clone()),
            json!({"k": text.clone()}),
            json!({text.clone(): 1}),
        ] {
            let written = check_write_json(&value)?;
            prop_assert_eq!(written, detect(&text).is_none());
        }
    }
}

/// A derived event, with every conversion and nested values of many types.
#[derive(TelemetrySafe)]
#[telemetry(event = "writer_demo")]
struct Everything {
    label: String,
    #[telemetry(hash)]
    repository: std::path::PathBuf,
    #[telemetry(hash)]
    missing: Option<String>,
    #[telemetry(distribution)]
    languages: Vec<String>,
    #[telemetry(count)]
    files: Vec<String>,
    #[telemetry(text_count)]
    query: String,
    #[telemetry(boolean)]
    config: Option<std::path::PathBuf>,
    #[telemetry(forbidden)]
    secret: String,
    by_language: std::collections::BTreeMap<String, u32>,
    hashed_keys: std::collections::HashMap<String, Vec<f32>>,
    sizes: Vec<Option<u64>>,
    ratio: f64,
    not_a_number: f64,
    big: u128,
    small: i128,
    letter: char,
    unit: (),
    nested: Inner,
    when: telemetry_core::Timestamp,
}

#[derive(TelemetrySafe)]
struct Inner {
    name: String,
    level: i8,
    flags: [bool; 2],
}

fn everything() -> Everything {
    Everything {
        label: "search \"quoted\"\n\t\u{1}\u{7f} caf\u{e9}".to_owned(),
        repository: "/home/ana/secret-project".into(),
        missing: None,
        languages: vec!["rust".into(), "c++".into(), "rust".into()],
        files: vec!["a".into(), "b".into()],
        query: "fn main".to_owned(),
        config: Some("/etc/x/y".into()),
        secret: "hunter2".to_owned(),
        by_language: [("rust".to_owned(), 3), ("go\\lang".to_owned(), 1)]
            .into_iter()
            .collect(),
        hashed_keys: [
            ("b".to_owned(), vec![1.5, f32::INFINITY]),
            ("a".to_owned(), vec![]),
        ]
        .into_iter()
        .collect(),
        sizes: vec![Some(1), None, Some(u64::MAX)],
        ratio: -0.000_123,
        not_a_number: f64::NAN,
        big: u128::MAX,
        small: i128::MIN,
        letter: '\u{1f389}',
        unit: (),
        nested: Inner {
            name: "sentence-transformers/all-MiniLM-L6-v2".to_owned(),
            level: -3,
            flags: [true, false],
        },
        when: telemetry_core::Timestamp::parse("2026-01-23T12:34:56.25Z").unwrap(),
    }
}

/// A change to [`everything`] that plants a value a detector fires on.
type Plant = fn(&mut Everything);

/// A field hashed with the app-wide key, which the test's anonymizer lacks.
#[derive(TelemetrySafe)]
struct AppHashed {
    #[telemetry(hash(scope = "app"))]
    model: String,
}

#[test]
fn write_json_writes_derived_events_as_serde_json_does() {
    let anonymizer = Anonymizer::new(&HashKey::from_bytes([9; 32]));
    let mut event = everything();
    assert!(check_write_json(&event.telemetry_view(&anonymizer)).unwrap());

    // A hit anywhere: nothing written, and the scan of serde_json's bytes
    // finds it.
    let planted: [(Detector, Plant); 4] = [
        (Detector::Email, |e| e.label = "mail ana@example.com".into()),
        (Detector::Ipv4, |e| {
            e.by_language.insert("10.0.0.1".into(), 1);
        }),
        (Detector::HomePath, |e| e.nested.name = "~/notes".into()),
        (Detector::UnixPath, |e| {
            e.languages.push("/home/ana/x".into());
        }),
    ];
    for (detector, plant) in planted {
        event = everything();
        plant(&mut event);
        let view = event.telemetry_view(&anonymizer);
        assert!(!check_write_json(&view).unwrap(), "{detector}");
        let bytes = serde_json::to_vec(&view).unwrap();
        assert_eq!(scan_json(&bytes).unwrap_err().detector, detector);
    }

    // A failure of the value's own (no app-wide key) is not written either.
    let app = AppHashed {
        model: "m".to_owned(),
    };
    assert!(!check_write_json(&app.telemetry_view(&anonymizer)).unwrap());
}

#[test]
fn write_json_leaves_to_serde_json_what_it_does_not_write() {
    use serde_json::value::RawValue;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    enum Shape {
        Lexical,
        Circle(f64),
        Square { side: f64 },
        Pair(u8, u8),
    }

    /// A `Display` that fails, written with `collect_str`.
    struct Broken;

    impl std::fmt::Display for Broken {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }

    impl serde::Serialize for Broken {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(self)
        }
    }

    let raw = RawValue::from_string("{\n \"a\": 1}".to_owned()).unwrap();
    let with_raw: BTreeMap<&str, &RawValue> = [("raw", &*raw)].into_iter().collect();
    let numbered: BTreeMap<u32, &str> = [(1, "x")].into_iter().collect();
    let flagged: BTreeMap<bool, &str> = [(true, "x")].into_iter().collect();
    let nested = |depth: usize| -> Value {
        (0..depth).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
    };
    assert!(!check_write_json(&with_raw).unwrap());
    assert!(!check_write_json(&numbered).unwrap());
    assert!(!check_write_json(&flagged).unwrap());
    assert!(!check_write_json(&Shape::Circle(1.0)).unwrap());
    assert!(!check_write_json(&Shape::Square { side: 1.0 }).unwrap());
    assert!(!check_write_json(&Shape::Pair(1, 2)).unwrap());
    // serde_json panics on it; the writer only stops.
    let mut out = b"head:".to_vec();
    assert!(!write_json(&mut out, &vec![Broken]));
    assert_eq!(out, b"head:");
    assert!(check_write_json(&nested(64)).unwrap());
    for depth in [65, 127, 128, 200] {
        assert!(!check_write_json(&nested(depth)).unwrap(), "{depth}");
    }
    // What it writes of enums: unit variants, as labels.
    let keyed: BTreeMap<&str, Shape> = [("mode", Shape::Lexical)].into_iter().collect();
    assert!(check_write_json(&keyed).unwrap());
    assert!(check_write_json(&(Shape::Lexical, b"bytes" as &[u8], 'x')).unwrap());
}
