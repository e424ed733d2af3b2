use std::process::ExitCode;

use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;

/// The URL clients use to reach a service under this configuration.
pub(crate) fn service_url(config: &CairnConfig, kind: ServiceKind) -> String {
    let service = config.services.get(kind);
    if !service.url.is_empty() {
        return service.base_url();
    }
    let host = match config.http.host.as_str() {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        host => host,
    };
    format!("http://{host}:{}", config.services.get(kind).port)
}

pub(crate) async fn run(config: &CairnConfig, json: bool) -> anyhow::Result<ExitCode> {
    let checks = ServiceKind::ALL.map(|kind| {
        let url = service_url(config, kind);
        async move {
            let readiness = Client::new(url.clone()).readiness().await;
            let (ready, detail) = match readiness {
                // Not ready: why. Ready: what it does without, if anything.
                Ok(report) if report.ready => {
                    let degraded = report.degraded.join("; ");
                    (true, if degraded.is_empty() { degraded } else { format!("degraded: {degraded}") })
                }
                Ok(report) => (false, report.reasons.join("; ")),
                Err(error) => (false, error.to_string()),
            };
            (kind, url, ready, detail)
        }
    });
    let results = futures::future::join_all(checks).await;
    let all_ready = results.iter().all(|(_, _, ready, _)| *ready);
    if json {
        let services: Vec<_> = results
            .iter()
            .map(|(kind, url, ready, detail)| {
                serde_json::json!({"service": kind.as_str(), "url": url, "ready": ready, "detail": detail})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"ready": all_ready, "services": services}))?
        );
    } else {
        let mut rows = vec![vec!["SERVICE".into(), "URL".into(), "READY".into(), "DETAIL".into()]];
        for (kind, url, ready, detail) in results {
            rows.push(vec![kind.to_string(), url, if ready { "yes" } else { "no" }.into(), detail]);
        }
        crate::table::print(&rows);
    }
    Ok(if all_ready { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
