"""The per-language lexicons, as data (TOML); a package so that the wheel ships them."""
