{ inputs.greeting.version = "^1"; }
