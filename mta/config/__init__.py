"""PowerMTA-syntax configuration: parse, validate, and resolve effective settings.

>>> cfg = parse_config_text("<domain *>\\n max-msg-rate 30/s\\n</domain>\\n")
>>> effective_settings(cfg, "gmail.com").settings.max_msg_rate.per_second
30.0
"""

from mta.config._lexer import Where
from mta.config.effective import Effective, effective_settings, match_order
from mta.config.loader import load_config, parse_config_text
from mta.config.model import (
    AcctFile,
    AddressPattern,
    BounceCategoryPattern,
    Config,
    ConfigWarning,
    DomainBlock,
    DomainKey,
    DomainSettings,
    Listener,
    PatternList,
    Pickup,
    RejectLog,
    ReturnProcessor,
    Route,
    SmtpUser,
    Source,
    VirtualMta,
    VirtualMtaPool,
    Warmup,
)
from mta.config.values import Address, Rate

__all__ = [
    "AcctFile",
    "Address",
    "AddressPattern",
    "BounceCategoryPattern",
    "Config",
    "ConfigWarning",
    "DomainBlock",
    "DomainKey",
    "DomainSettings",
    "Effective",
    "Listener",
    "PatternList",
    "Pickup",
    "Rate",
    "RejectLog",
    "ReturnProcessor",
    "Route",
    "SmtpUser",
    "Source",
    "VirtualMta",
    "VirtualMtaPool",
    "Warmup",
    "Where",
    "effective_settings",
    "load_config",
    "match_order",
    "parse_config_text",
]
