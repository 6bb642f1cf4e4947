"""Brace patterns are counted exactly as braceexpand would expand them, without expanding them."""

import braceexpand
import pytest

from corrupter.io.patterns import check_shard_patterns, count_names, expand_shard_patterns

PATTERNS = [
    "", "plain.tar", "val-{000000..000049}.tar", "{a,b,c}-{0..3}", "x{1..10..3}", "{10..1}", "{-2..2}",
    "{a..g..2}", "{Z..a}", "{z..A}", "python{2.{5..7},3.{2,3}}", "{}", "{x}", "{,a}{,b}", r"\{a,b}",
    r"{a\,b,c}", "{a,{b,{c,d}}}{1..2}", "{0..0}", "a{{1..2}}b", "{07..10}", "{1..3..0}", "s3://b/{a,b}/{0..9}.tar",
    "{a,b}{", ]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_counts_match_braceexpand(pattern):
    try:
        expected = len(list(braceexpand.braceexpand(pattern)))
    except braceexpand.UnbalancedBracesError:
        with pytest.raises(braceexpand.UnbalancedBracesError):
            count_names(pattern)
        return
    assert count_names(pattern) == expected


def test_huge_patterns_are_counted_not_made():
    assert count_names("{0..999999999}-{a..z}-{0..99}") == 10**9 * 26 * 100
    with pytest.raises(ValueError, match="more than 100,000 shards"):
        expand_shard_patterns("val-{0000000..9999999}.tar")
    with pytest.raises(ValueError, match="braces nested too deeply"):
        check_shard_patterns("{" * 5000 + "a,b" + "}" * 5000)


def test_expansion_keeps_the_order_of_the_list_and_the_pattern():
    assert expand_shard_patterns(["b-{1..2}.tar", "a.tar"]) == ["b-1.tar", "b-2.tar", "a.tar"]
    assert check_shard_patterns(["b-{1..2}.tar", "a.tar"]) == 3
