# Requirements for flakeresolve, beside a flake.nix that today's Nix reads.
{
  version = "0.1.0";
  inputs.greeting.version = "~1.0";
  inputs.banner.version = "^1";
}
