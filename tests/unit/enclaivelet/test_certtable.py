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
