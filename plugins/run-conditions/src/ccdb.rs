//! `ccdb.RunStart()` and `ccdb.RunStop()`: AliECS uploads the run's GRP object with a command
//! whose failures it only logs (`core/integration/ccdb/plugin.go`). Nothing of it reaches Kafka
//! but the calls themselves, which always succeed.

use ecsim_core::plugin::{CallContext, CallOutcome, IntegrationPlugin, async_trait};

/// AliECS's `ccdb` plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct CcdbPlugin;

const FUNCTIONS: [&str; 2] = ["RunStart", "RunStop"];

#[async_trait]
impl IntegrationPlugin for CcdbPlugin {
    fn name(&self) -> &str {
        "ccdb"
    }

    fn pretty_name(&self) -> &str {
        "CCDB"
    }

    fn functions(&self) -> Vec<String> {
        FUNCTIONS.map(str::to_owned).to_vec()
    }

    async fn call(&self, call: CallContext) -> CallOutcome {
        if FUNCTIONS.contains(&call.function.as_str()) {
            CallOutcome::ok("")
        } else {
            CallOutcome::failed(format!("ccdb offers no function {}", call.function), None)
        }
    }
}
