"""The portal's pages, one module per job: ``auth`` (sign in and out), ``home``."""
