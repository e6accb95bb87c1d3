//! `/status` as HTML: one table per listener, one row per target. The page
//! replaces its tables every two seconds with a fresh fragment
//! (`/status?fragment`), in a few lines of plain JavaScript; without
//! JavaScript it reloads itself.

use std::fmt::Write;

use super::{ListenerStatus, RuleStatus, Status};
use crate::config::StoreKind;
use crate::store::StoreSummary;

/// How often the page refreshes, in milliseconds.
const REFRESH_MS: u32 = 2000;

/// The whole page.
pub(crate) fn page(status: &Status) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str(concat!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<title>stgw status</title>",
        "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>",
        "<style>",
        "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}",
        "table{border-collapse:collapse;margin:.4em 0 1.4em}",
        "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}",
        "th{background:#f3f3f3}td.num{text-align:right}",
        ".alive{color:#176f2c;font-weight:600}.dead{color:#b00020;font-weight:600}",
        ".unknown{color:#777}.all-dead{background:#fde7e9}",
        ".store-down{background:#fde7e9;padding:.4em .6em;border:1px solid #b00020}",
        "</style></head><body><h1>stgw</h1>",
        "<p id=\"updated\">live: refreshes every 2 s</p><div id=\"status\">"
    ));
    fragment(status, &mut out);
    let _ = write!(
        out,
        concat!(
            "</div><script>\n",
            "const box = document.getElementById('status');\n",
            "const note = document.getElementById('updated');\n",
            "async function refresh() {{\n",
            "  try {{\n",
            "    const r = await fetch('status?fragment', {{cache: 'no-store', credentials: 'same-origin'}});\n",
            "    if (!r.ok) throw new Error('HTTP ' + r.status);\n",
            "    box.innerHTML = await r.text();\n",
            "    note.textContent = 'updated ' + new Date().toLocaleTimeString();\n",
            "  }} catch (e) {{\n",
            "    note.textContent = 'cannot reach stgw: ' + e.message;\n",
            "  }}\n",
            "}}\n",
            "setInterval(refresh, {ms});\n",
            "</script></body></html>\n"
        ),
        ms = REFRESH_MS
    );
    out
}

/// The tables alone (what the page swaps in).
pub(crate) fn fragment(status: &Status, out: &mut String) {
    store(&status.store, out);
    if status.load_balancers.is_empty() {
        out.push_str("<p>No load balancer is configured.</p>");
    }
    for lb in &status.load_balancers {
        let _ = write!(
            out,
            "<section class=\"lb\"><h2>{} <small>{}</small></h2>",
            esc(&lb.name),
            esc(&lb.id)
        );
        for l in &lb.listeners {
            listener(l, status.window_seconds, out);
        }
        out.push_str("</section>");
    }
}

/// One line on the configuration store; loud while it is unreachable or
/// its latest revision cannot be applied here.
fn store(s: &StoreSummary, out: &mut String) {
    let trouble = !s.healthy || s.apply_error.is_some();
    let _ = write!(
        out,
        "<p id=\"store\" class=\"{}\" data-healthy=\"{}\">Configuration store: {}",
        if trouble { "store-down" } else { "store-ok" },
        s.healthy,
        s.kind.as_str()
    );
    if s.kind != StoreKind::File {
        if s.healthy {
            let _ = write!(out, ", reachable, revision {}", s.revision);
        } else {
            let _ = write!(
                out,
                " <strong>unreachable</strong>: serving the last good configuration \
                 (revision {}); API writes are refused until it returns",
                s.revision
            );
        }
    }
    if let Some(e) = &s.apply_error {
        let _ = write!(
            out,
            "; <strong>its latest revision could not be applied here</strong>: {}",
            esc(e)
        );
    }
    out.push_str("</p>");
}

fn listener(l: &ListenerStatus, window: u64, out: &mut String) {
    let _ = write!(
        out,
        "<h3>{} {} <small>{} · {}</small> — {} open connections, {} since start</h3>",
        l.protocol,
        l.address,
        esc(&l.name),
        esc(&l.id),
        l.connections_active,
        l.connections_total
    );
    let _ = write!(
        out,
        "<table><thead><tr><th>Domain</th><th>Rule</th><th>Target</th><th>Weight</th>\
         <th>Health</th><th>Active</th><th>Req/s ({window} s)</th><th>Latency</th></tr></thead><tbody>"
    );
    for d in &l.domains {
        let name = if d.default {
            format!("{} (default)", esc(&d.name))
        } else {
            esc(&d.name)
        };
        for r in &d.rules {
            rule(&name, r, out);
        }
    }
    out.push_str("</tbody></table>");
}

fn rule(domain: &str, r: &RuleStatus, out: &mut String) {
    let class = if r.all_dead {
        " class=\"all-dead\""
    } else {
        ""
    };
    let rule = format!(
        "{} <small>{} · {}{}</small>",
        esc(&r.url),
        esc(&r.id),
        r.scheduler,
        if r.all_dead {
            " · all dead: all targets get traffic"
        } else {
            ""
        }
    );
    if r.targets.is_empty() {
        let what = if r.action == "redirect" {
            "redirect"
        } else {
            "no target"
        };
        let _ = write!(
            out,
            "<tr{class}><td>{domain}</td><td>{rule}</td><td colspan=\"6\">{what}</td></tr>"
        );
        return;
    }
    for t in &r.targets {
        let latency = t
            .latency_ms
            .map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1} ms"));
        let _ = write!(
            out,
            "<tr{class} data-rule=\"{id}\" data-target=\"{addr}\" data-health=\"{health}\">\
             <td>{domain}</td><td>{rule}</td><td>{addr}</td><td class=\"num\">{weight}</td>\
             <td class=\"{health}\">{health}</td><td class=\"num\">{active}</td>\
             <td class=\"num\">{rate:.1}</td><td class=\"num\">{latency}</td></tr>",
            id = esc(&r.id),
            addr = t.address,
            health = t.health,
            weight = t.weight,
            active = t.active_requests,
            rate = t.requests_per_second,
        );
    }
}

/// HTML-escapes configuration text (domain regexes may hold `<`, `&`…).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_line_says_when_this_node_runs_without_its_store() {
        let mut out = String::new();
        let mut s = StoreSummary {
            kind: StoreKind::Etcd,
            healthy: true,
            revision: 12,
            apply_error: None,
        };
        store(&s, &mut out);
        assert!(out.contains("class=\"store-ok\""), "{out}");
        assert!(out.contains("etcd, reachable, revision 12"), "{out}");
        s.healthy = false;
        s.apply_error = Some("port <80> busy".into());
        out.clear();
        store(&s, &mut out);
        assert!(out.contains("class=\"store-down\""), "{out}");
        assert!(
            out.contains("serving the last good configuration (revision 12)"),
            "{out}"
        );
        assert!(out.contains("port &lt;80&gt; busy"), "{out}");
    }

    #[test]
    fn configuration_text_is_escaped() {
        assert_eq!(esc("~^<a&b>\"'"), "~^&lt;a&amp;b&gt;&quot;&#39;");
    }
}
