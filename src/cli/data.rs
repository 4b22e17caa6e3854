//! `kindling data`: download or verify datasets.

use clap::{Args, Subcommand};
use kindling::vision::{FileStatus, VisionDataset};

use super::{fail, open_dataset, DataSource, DatasetName, Failure, Input, Split};

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Download a dataset's four files (checked against their published MD5s)
    Download {
        #[arg(long, value_enum, default_value = "mnist")]
        dataset: DatasetName,
        #[command(flatten)]
        source: DataSource,
    },
    /// Check the files' uncompressed content against the known digests
    Verify {
        #[arg(long, value_enum, default_value = "mnist")]
        dataset: DatasetName,
        #[command(flatten)]
        source: DataSource,
    },
}

pub fn run(args: DataArgs) -> Result<(), Failure> {
    match args.action {
        Action::Download { dataset, source } => {
            if source.no_download {
                return Err(fail(
                    "`data download` downloads; --no-download contradicts it (use `data verify` to check files)",
                ));
            }
            let ds = open_dataset(dataset, Split::Train, &source, Input::Raw)?;
            println!("{} is in {}", dataset.name(), ds.dir().display());
            Ok(())
        }
        Action::Verify { dataset, source } => {
            let mut bad = Vec::new();
            for status in VisionDataset::verify(dataset.family(), &source.root()) {
                match status {
                    FileStatus::Ok(p) => println!("ok       {}", p.display()),
                    FileStatus::Damaged { path, reason } => {
                        println!("DAMAGED  {} ({reason})", path.display());
                        bad.push(path.display().to_string());
                    }
                    FileStatus::Missing(p) => {
                        println!("MISSING  {p}");
                        bad.push(p);
                    }
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(fail(format!(
                    "{} verification failed: {}",
                    dataset.name(),
                    bad.join(", ")
                )))
            }
        }
    }
}
