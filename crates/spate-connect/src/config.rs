//! The Config RPC: set, get, get with default, get option, get all (by prefix), unset and
//! is-modifiable, with Spark's defaults and its `SQL_CONF_NOT_FOUND` for unknown keys.

use spark_connect_proto::spark::connect::config_request::operation::OpType;
use spark_connect_proto::spark::connect::{ConfigRequest, ConfigResponse, KeyValue};
use spate_common::{Error, Result, SessionConfig};

use spate_session::Session;

/// Handles one Config request.
pub fn handle(session: &Session, req: ConfigRequest) -> Result<ConfigResponse> {
    let op = req
        .operation
        .and_then(|o| o.op_type)
        .ok_or_else(|| Error::internal("config request without an operation"))?;
    let mut config = session
        .config
        .lock()
        .map_err(|_| Error::internal("config lock poisoned"))?;
    let kv = |key: String, value: Option<String>| KeyValue { key, value };
    let mut pairs = Vec::new();
    let mut warnings = Vec::new();
    match op {
        OpType::Set(set) => {
            for p in set.pairs {
                let value = p.value.unwrap_or_default();
                match config.set(&p.key, &value) {
                    Ok(()) => {}
                    Err(_) if set.silent.unwrap_or(false) => {
                        warnings.push(format!("ignored invalid value for '{}'", p.key));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        OpType::Get(get) => {
            for k in get.keys {
                let v = config.get_required(&k)?;
                pairs.push(kv(k, Some(v)));
            }
        }
        OpType::GetWithDefault(g) => {
            for p in g.pairs {
                let v = if config.is_set(&p.key) {
                    config.get(&p.key)
                } else {
                    p.value
                };
                pairs.push(kv(p.key, v));
            }
        }
        OpType::GetOption(g) => {
            for k in g.keys {
                let v = config.get(&k);
                pairs.push(kv(k, v));
            }
        }
        OpType::GetAll(g) => {
            for (k, v) in config.all(g.prefix.as_deref()) {
                pairs.push(kv(k, Some(v)));
            }
        }
        OpType::Unset(u) => {
            for k in u.keys {
                config.unset(&k);
            }
        }
        OpType::IsModifiable(m) => {
            for k in m.keys {
                pairs.push(kv(
                    k.clone(),
                    Some(SessionConfig::is_modifiable(&k).to_string()),
                ));
            }
        }
    }
    sync_engine_options(session, &config);
    Ok(ConfigResponse {
        session_id: session.id.clone(),
        server_side_session_id: session.server_side_id.clone(),
        pairs,
        warnings,
    })
}

/// Mirrors the Spark settings DataFusion acts on (session time zone, ANSI mode, broadcast
/// threshold) into the session's DataFusion options.
fn sync_engine_options(session: &Session, config: &SessionConfig) {
    let state = session.ctx.state_ref();
    let mut state = state.write();
    spate_plan::session::set_time_zone(&mut state, &config.time_zone());
    spate_plan::session::apply_engine_options(state.config_mut().options_mut(), config);
}
