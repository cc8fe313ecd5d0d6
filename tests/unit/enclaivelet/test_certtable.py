import pytest

from buckypaper_os.enclaivelet import certtable


def test_round_trip_orders_vcek_first():
    table = certtable.encode([(certtable.ARK, b'ark'),
                              (certtable.VCEK, b'vcek'),
                              (certtable.ASK, b'ask')])
    assert certtable.certificates(table) == [b'vcek', b'ask', b'ark']
    # A zero-padded buffer (the ioctl's) parses the same.
    assert certtable.certificates(table + bytes(4096)) == [
        b'vcek', b'ask', b'ark']


def test_empty_and_malformed():
    assert certtable.certificates(b'') == []
    assert certtable.certificates(bytes(24)) == []
    table = certtable.encode([(certtable.VCEK, b'vcek')])
    with pytest.raises(certtable.CertTableError):
        certtable.decode(table[:24])
    with pytest.raises(certtable.CertTableError):
        certtable.decode(table[:-2])


def test_overlapping_entries_are_refused():
    """Entries all naming the whole table would copy it once each."""
    size = 64 * 1024
    count = size // 24 - 1
    head = b''.join(certtable._ENTRY.pack(certtable.VCEK.bytes_le, 0, size)
                    for _ in range(count)) + bytes(24)
    table = head + bytes(size - len(head))
    with pytest.raises(certtable.CertTableError, match='overlap'):
        certtable.decode(table)
