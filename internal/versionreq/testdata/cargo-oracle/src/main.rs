// Reads "REQUIREMENT<TAB>VERSION" lines and answers each with the semver
// crate's verdict: "error<TAB>message" when the requirement does not parse,
// else "true|false<TAB>canonical form". This is the reference the Go
// implementation is checked against.
use std::io::{self, BufRead, Write};

fn main() {
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout());
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let mut parts = line.splitn(2, '\t');
        let req = parts.next().unwrap();
        let ver = parts.next().unwrap_or("");
        match semver::VersionReq::parse(req) {
            Err(e) => writeln!(out, "error\t{}", e).unwrap(),
            Ok(r) => {
                let v = semver::Version::parse(ver).expect("test versions are valid");
                writeln!(out, "{}\t{}", r.matches(&v), r).unwrap();
            }
        }
    }
}
