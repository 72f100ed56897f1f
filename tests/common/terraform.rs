//! Terraform for the tests: the binary, the offline CLI configuration (providers only from the
//! filesystem mirror), a copy of the module and one root module of `deploy/terraform/test/` in
//! a temporary folder (no `.terraform/`, lock or state file ever lands in the checkout), and,
//! for an apply against moto, a provider override that points every endpoint the module and its
//! sandbox use at the loopback emulator, with fake credentials and the account checks skipped.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `TERRAFORM`, else `terraform` on `PATH`; missing is a failure, not a skip.
pub fn terraform_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TERRAFORM") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("terraform"))
        .find(|p| is_executable(p))
        .expect(
            "terraform not found (>= 1.5; set TERRAFORM, or install it: \
             https://developer.hashicorp.com/terraform/install). The module is checked with \
             terraform; this test does not skip.",
        )
}

/// `TF_CLI_CONFIG_FILE` if it names an existing file (a machine's own configuration, with its
/// mirror or network access), else the project's `deploy/terraform/test/terraformrc`, whose
/// provider mirror must then exist.
pub fn cli_config() -> PathBuf {
    if let Some(path) = std::env::var_os("TF_CLI_CONFIG_FILE").map(PathBuf::from)
        && path.is_file()
    {
        return path;
    }
    let config = manifest().join("deploy/terraform/test/terraformrc");
    let text = fs::read_to_string(&config).unwrap();
    let mirror = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("path"))
        .and_then(|rest| rest.split('"').nth(1))
        .expect("terraformrc names no filesystem_mirror path");
    let provider = Path::new(mirror).join("registry.terraform.io/hashicorp/aws");
    assert!(
        provider.is_dir(),
        "no hashicorp/aws provider in the mirror {} named by {}: terraform cannot install it \
         offline. Provide the mirror, or set TF_CLI_CONFIG_FILE to a configuration that can; \
         this test does not skip.",
        provider.display(),
        config.display()
    );
    config
}

/// Copies the `.tf` files of `from` (not its folders) into `to`.
pub fn copy_tf_files(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "tf") {
            fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// The services the module and `deploy/terraform/test/sandbox` call (the provider's endpoint
/// names).
const ENDPOINTS: [&str; 14] = [
    "acm",
    "cloudwatch",
    "ec2",
    "elbv2",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "scheduler",
    "sns",
    "sqs",
    "ssm",
    "sts",
];

/// A provider override (`provider_override.tf`, merged into the root module's provider block)
/// that sends every call to `endpoint` with fake credentials, and skips the checks that need a
/// real account.
pub fn moto_provider_override(endpoint: &str) -> String {
    let endpoints: String = ENDPOINTS
        .iter()
        .map(|service| format!("    {service} = \"{endpoint}\"\n"))
        .collect();
    format!(
        "# Written by the test: every endpoint is the loopback emulator.\n\
         provider \"aws\" {{\n  access_key                  = \"test\"\n  \
         secret_key                  = \"test\"\n  skip_credentials_validation = true\n  \
         skip_requesting_account_id  = true\n  skip_metadata_api_check     = true\n  \
         skip_region_validation      = true\n  endpoints {{\n{endpoints}  }}\n}}\n"
    )
}

/// The module and one root module of `deploy/terraform/test/` copied into a temporary folder.
pub struct Root {
    dir: tempfile::TempDir,
    /// The root module's folder.
    pub path: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
}

impl Root {
    /// Copies the module and `deploy/terraform/test/NAME`, `edit` applied to its main.tf.
    pub fn copy(name: &str, edit: impl FnOnce(String) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("terraform");
        copy_tf_files(&manifest().join("deploy/terraform"), &module);
        let path = module.join("test").join(name);
        copy_tf_files(&manifest().join("deploy/terraform/test").join(name), &path);
        let main = path.join("main.tf");
        fs::write(&main, edit(fs::read_to_string(&main).unwrap())).unwrap();
        fs::create_dir_all(dir.path().join("plugin-cache")).unwrap();
        Self {
            config: cli_config(),
            path,
            dir,
            env: Vec::new(),
        }
    }

    /// Points the provider at the emulator (`provider_override.tf`) and gives the commands its
    /// environment.
    pub fn against_moto(&mut self, endpoint: &str, env: Vec<(&'static str, String)>) {
        fs::write(
            self.path.join("provider_override.tf"),
            moto_provider_override(endpoint),
        )
        .unwrap();
        self.env = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    }

    /// A scratch folder beside the copy (packages, certificates, variables).
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// `terraform ARGS -no-color` in the root module, offline.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(terraform_bin())
            .args(args)
            .arg("-no-color")
            .current_dir(&self.path)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("TF_CLI_CONFIG_FILE", &self.config)
            // Symlinks to the mirror instead of a 700 MB copy of the provider per init.
            .env("TF_PLUGIN_CACHE_DIR", self.dir.path().join("plugin-cache"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("running terraform")
    }

    /// `terraform init`, offline; panics with terraform's output when it fails.
    pub fn init(&self) {
        let out = self.run(&["init", "-backend=false", "-input=false"]);
        assert!(out.status.success(), "terraform init: {}", describe(&out));
    }
}

/// Exit status, stdout and stderr, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
