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
    ("Apache-2.0 with llvm-exception", "Apache-2.0 WITH LLVM-exception"),
    ("MIT OR GPL-3.0-only AND GPL-2.0-only", "MIT OR (GPL-3.0-only AND GPL-2.0-only)"),  # precedence made explicit
    ("Foo-1.0", None),  # not on SPDX's list
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
    # precedence and parentheses as SPDX defines them (AND binds tighter than OR)
    ("(MIT OR GPL-3.0-only) AND GPL-2.0-only", (), False),
    ("GPL-2.0-only AND (MIT OR Apache-2.0)", (), False),
    ("MIT OR GPL-3.0-only AND GPL-2.0-only", (), True),
    ("(MIT OR Apache-2.0) AND (BSD-3-Clause OR GPL-3.0-only)", (), True),
    # an exception only adds permissions: allowed when its license is
    ("Apache-2.0 WITH LLVM-exception", (), True),
    ("GPL-2.0-only WITH Classpath-exception-2.0", (), False),
    ("GPL-2.0-only WITH Classpath-exception-2.0", ("GPL-2.0-only",), True),
    ("not a license", (), False),
])
def test_is_allowed(expression, allowed, ok):
    assert is_allowed(expression, allowed) is ok


def test_file_license_reads_parenthesised_expressions(tmp_path):
    from generator.real.sources import file_license

    path = tmp_path / "k.py"
    path.write_text("# SPDX-License-Identifier: (MIT OR GPL-3.0-only) AND GPL-2.0-only\nimport warp as wp\n")
    assert file_license(path) == "(MIT OR GPL-3.0-only) AND GPL-2.0-only"
    assert not is_allowed(file_license(path))
    other = tmp_path / "c.py"
    other.write_text('"""SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception"""\n')
    assert file_license(other) == "Apache-2.0 WITH LLVM-exception"
