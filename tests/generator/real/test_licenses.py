"""Licenses from distribution metadata, normalised to SPDX; which ones are mined."""

from __future__ import annotations

from email.message import Message

import pytest

from generator.real.licenses import (
    classifier_license,
    distribution_license,
    is_allowed,
    license_from_text,
    normalize_expression,
)

MIT_TEXT = """MIT License

Copyright (c) 2026 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
"""
BSD3_TEXT = """Copyright (c) 2020, Org
Redistribution and use in source and binary forms, with or without modification, are permitted provided that
the following conditions are met: ... 3. Neither the name of the copyright holder nor the names of its
contributors may be used to endorse or promote products"""


def _meta(**fields) -> Message:
    meta = Message()
    for key, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            meta[key.replace("_", "-")] = v
    return meta


@pytest.mark.parametrize("text, expected", [
    ("Apache-2.0", "Apache-2.0"),
    ("apache-2.0", "Apache-2.0"),
    ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
    ("(MIT or bsd-3-clause) AND Zlib", "(MIT OR BSD-3-Clause) AND Zlib"),
    ("GPL-2.0-or-later WITH Classpath-exception-2.0", "GPL-2.0-or-later WITH Classpath-exception-2.0"),
    ("LicenseRef-Proprietary", "LicenseRef-Proprietary"),
    ("MIT License", None),  # a name, not an expression
    ("", None),
    ("see LICENSE file", None),
])
def test_normalize_expression(text, expected):
    assert normalize_expression(text) == expected


@pytest.mark.parametrize("fields, expected", [
    ({"License_Expression": "Apache-2.0", "License": "MIT"}, ("Apache-2.0", "License-Expression")),
    ({"License": "MIT License"}, ("MIT", "License")),  # skrl
    ({"License": MIT_TEXT, "Classifier": "License :: OSI Approved :: MIT License"}, ("MIT", "License")),  # warp-jsb
    ({"License": "Apache 2.0"}, ("Apache-2.0", "License")),
    ({"License": "UNKNOWN", "Classifier": ["License :: OSI Approved :: Apache Software License",
                                             "Programming Language :: Python"]}, ("Apache-2.0", "classifiers")),
    ({"Classifier": "License :: OSI Approved :: BSD License"}, (None, "none")),  # which BSD? not said
    ({"Classifier": ["License :: OSI Approved :: MIT License", "License :: OSI Approved :: Apache Software License"]},
     ("Apache-2.0 OR MIT", "classifiers")),
    ({"Classifier": "License :: OSI Approved :: GNU General Public License v3 (GPLv3)"},
     ("GPL-3.0-only", "classifiers")),
    ({}, (None, "none")),
])
def test_distribution_license(fields, expected):
    assert distribution_license(_meta(**fields)) == expected


def test_license_file_is_the_last_resort():
    assert distribution_license(_meta(), BSD3_TEXT) == ("BSD-3-Clause", "license file")
    assert distribution_license(_meta(), "All rights reserved.") == (None, "none")
    assert license_from_text(BSD3_TEXT.replace("Neither the name", "").replace("names of its", "")) == "BSD-2-Clause"


def test_classifier_license_ignores_other_classifiers():
    assert classifier_license(["Topic :: Scientific", "Programming Language :: Python :: 3"]) is None


@pytest.mark.parametrize("expression, allowed, ok", [
    ("Apache-2.0", (), True),
    ("MIT OR GPL-3.0-only", (), True),
    ("MIT AND GPL-3.0-only", (), False),
    ("GPL-3.0-only", (), False),
    ("GPL-3.0-only", ("GPL-3.0-only",), True),
    ("LGPL-3.0-only", ("GPL-3.0-only",), False),
    ("LicenseRef-Proprietary", (), False),
])
def test_is_allowed(expression, allowed, ok):
    assert is_allowed(expression, allowed) is ok
