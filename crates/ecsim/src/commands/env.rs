//! `ecsim env …` and `ecsim info`: a small client of AliECS's control API, shaped after
//! AliECS's `coconut`, for shifters' habits and shell tests. It speaks to any server of
//! `o2control.Control`: `ecsim serve`, or an AliECS core.
//!
//! Replies are printed as text for people, or with `--json` as the API's messages in proto3
//! JSON, for scripts. An error status from the server is exit 7 with its code and message.

use std::io::Write as _;

use anyhow::Context as _;
use ecsim_proto::{
    common::User,
    json::to_json,
    o2control::{self as pb, control_client::ControlClient},
};
use tonic::transport::Channel;

use crate::{
    cli::{EndpointArgs, EnvCommand},
    exit::CliError,
};

fn endpoint_url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    }
}

async fn connect(args: &EndpointArgs) -> Result<ControlClient<Channel>, CliError> {
    let unreachable = |reason: String| CliError::Unreachable {
        endpoint: args.endpoint.clone(),
        reason,
    };
    let endpoint = Channel::from_shared(endpoint_url(&args.endpoint))
        .map_err(|error| unreachable(format!("not an address: {error}")))?
        .connect_timeout(std::time::Duration::from_secs(5));
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| unreachable(error_chain(&error)))?;
    // Environments of thousands of tasks make large replies.
    Ok(ControlClient::new(channel).max_decoding_message_size(256 * 1024 * 1024))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = cause_of(source);
    }
    text
}

fn cause_of(error: Option<&dyn std::error::Error>) -> Option<&dyn std::error::Error> {
    error.and_then(std::error::Error::source)
}

fn refused(method: &'static str) -> impl Fn(tonic::Status) -> CliError {
    move |status| CliError::Refused {
        method,
        code: status.code(),
        message: status.message().to_owned(),
    }
}

fn user(who: &crate::cli::UserArgs) -> Option<User> {
    Some(who.user())
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?)
}

fn print_json<M: prost_reflect_message::Reflect>(message: &M) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", to_json(message)).context("writing to stdout")?;
    Ok(())
}

/// The `ReflectMessage` bound, named once.
mod prost_reflect_message {
    pub(crate) trait Reflect: ecsim_proto::prost_reflect::ReflectMessage {}
    impl<T: ecsim_proto::prost_reflect::ReflectMessage> Reflect for T {}
}

fn out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{text}").context("writing to stdout")?;
    Ok(())
}

/// `ecsim info`.
pub(crate) fn info(endpoint: &EndpointArgs) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let mut client = connect(endpoint).await?;
        let reply = client
            .get_framework_info(pb::GetFrameworkInfoRequest {})
            .await
            .map_err(refused("GetFrameworkInfo"))?
            .into_inner();
        if endpoint.json {
            return print_json(&reply);
        }
        let version = reply.version.clone().unwrap_or_default();
        out(&format!(
            "instance name:      {}\nproduct:            {} {}\nframework id:       {}\nstate:              {}\nenvironments:       {}\ntasks:              {}\nhosts:              {}\nactive detectors:   {}\navailable detectors: {}\n",
            reply.instance_name,
            version.product_name,
            version.version_str,
            reply.framework_id,
            reply.state,
            reply.environments_count,
            reply.tasks_count,
            reply.hosts_count,
            reply.active_detectors.join(" "),
            reply.available_detectors.join(" "),
        ))
    })
}

/// `ecsim env …`.
pub(crate) fn run(command: &EnvCommand) -> Result<(), CliError> {
    runtime()?.block_on(async {
        match command {
            EnvCommand::List { endpoint } => {
                let mut client = connect(endpoint).await?;
                let reply = client
                    .get_environments(pb::GetEnvironmentsRequest {
                        show_all: true,
                        ..Default::default()
                    })
                    .await
                    .map_err(refused("GetEnvironments"))?
                    .into_inner();
                if endpoint.json {
                    return print_json(&reply);
                }
                let mut text = format!(
                    "{:<12} {:<18} {:<11} {:>8}  {}\n",
                    "ID", "TEMPLATE", "STATE", "RUN", "DETECTORS"
                );
                for env in &reply.environments {
                    text.push_str(&format!(
                        "{:<12} {:<18} {:<11} {:>8}  {}\n",
                        env.id,
                        env.root_role,
                        env.state,
                        if env.current_run_number == 0 {
                            "-".to_owned()
                        } else {
                            env.current_run_number.to_string()
                        },
                        env.included_detectors.join(",")
                    ));
                }
                out(&text)
            }
            EnvCommand::Show { id, endpoint } => {
                let mut client = connect(endpoint).await?;
                let reply = client
                    .get_environment(pb::GetEnvironmentRequest {
                        id: id.clone(),
                        show_workflow_tree: false,
                    })
                    .await
                    .map_err(refused("GetEnvironment"))?
                    .into_inner();
                if endpoint.json {
                    return print_json(&reply);
                }
                let env = reply.environment.unwrap_or_default();
                let mut text = format!(
                    "environment id:     {}\nworkflow template:  {}\nstate:              {}\ntransition:         {}\nrun number:         {}\ndetectors:          {}\nFLPs:               {}\ntasks:              {} ({} active)\nuser vars:\n",
                    env.id,
                    env.root_role,
                    env.state,
                    if env.current_transition.is_empty() { "-" } else { &env.current_transition },
                    env.current_run_number,
                    env.included_detectors.join(","),
                    env.number_of_flps,
                    env.number_of_tasks,
                    env.number_of_active_tasks,
                );
                for (key, value) in &env.user_vars {
                    text.push_str(&format!("  {key} = {value}\n"));
                }
                out(&text)
            }
            EnvCommand::Create {
                workflow_template,
                detectors,
                vars,
                user: who,
                endpoint,
            } => {
                let mut client = connect(endpoint).await?;
                let mut request_vars: std::collections::BTreeMap<String, String> =
                    vars.iter().cloned().collect();
                if !detectors.is_empty() {
                    request_vars.insert(
                        "detectors".to_owned(),
                        serde_json::to_string(detectors).context("the detectors as JSON")?,
                    );
                }
                let reply = client
                    .new_environment(pb::NewEnvironmentRequest {
                        workflow_template: workflow_template.clone(),
                        vars: request_vars,
                        public: true,
                        auto_transition: false,
                        request_user: user(who),
                    })
                    .await
                    .map_err(refused("NewEnvironment"))?
                    .into_inner();
                if endpoint.json {
                    return print_json(&reply);
                }
                let env = reply.environment.unwrap_or_default();
                out(&format!(
                    "new environment created\nenvironment id:     {}\nstate:              {}\n",
                    env.id, env.state
                ))
            }
            EnvCommand::Control {
                id,
                event,
                user: who,
                endpoint,
            } => {
                let mut client = connect(endpoint).await?;
                let reply = client
                    .control_environment(pb::ControlEnvironmentRequest {
                        id: id.clone(),
                        r#type: *event,
                        request_user: user(who),
                    })
                    .await
                    .map_err(refused("ControlEnvironment"))?
                    .into_inner();
                if endpoint.json {
                    print_json(&reply)?;
                } else {
                    out(&format!(
                        "transition {}\nenvironment id:     {}\nstate:              {}\nrun number:         {}\nduration:           {} ms\n",
                        if reply.state == "ERROR" { "failed" } else { "complete" },
                        reply.id, reply.state, reply.current_run_number, reply.transition_duration
                    ))?;
                }
                // AliECS answers a failed transition with its reply, not an error status: the
                // environment's state says it. A script wants a failed exit status.
                if reply.state == "ERROR" {
                    return Err(CliError::Refused {
                        method: "ControlEnvironment",
                        code: tonic::Code::Ok,
                        message: format!("the transition failed: environment {} is in ERROR", reply.id),
                    });
                }
                Ok(())
            }
            EnvCommand::Destroy {
                id,
                allow_in_running_state,
                force,
                keep_tasks,
                user: who,
                endpoint,
            } => {
                let mut client = connect(endpoint).await?;
                let reply = client
                    .destroy_environment(pb::DestroyEnvironmentRequest {
                        id: id.clone(),
                        keep_tasks: *keep_tasks,
                        allow_in_running_state: *allow_in_running_state,
                        force: *force,
                        request_user: user(who),
                    })
                    .await
                    .map_err(refused("DestroyEnvironment"))?
                    .into_inner();
                if endpoint.json {
                    return print_json(&reply);
                }
                let killed = reply
                    .cleanup_tasks_reply
                    .map_or(0, |cleanup| cleanup.killed_tasks.len());
                out(&format!(
                    "teardown complete for environment {id}\n{killed} task(s) killed\n"
                ))
            }
        }
    })
}
