"""The Vault's RPC client to Nitride, as Barbican's API process builds it."""

from oslo_config import cfg
from oslo_messaging._drivers import amqpdriver

from buckypaper_os.barbican_plugin import store as store_mod
from buckypaper_os.nitride_service import rpc


def test_the_vault_quiets_its_reply_listener(monkeypatch):
    monkeypatch.setattr(amqpdriver, 'ACK_REQUEUE_EVERY_SECONDS_MIN', 0.001)
    conf = cfg.ConfigOpts()
    store_mod.register_opts(conf)
    conf([])
    conf.set_override('transport_url', 'fake://', 'buckypaper_vault')
    conf.set_override('nitride_topic', 'nitride-vault', 'buckypaper_vault')
    vault = store_mod.VaultStore(conf)
    assert vault.nitride() is vault.nitride()
    assert amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN == rpc.IDLE_POLL
    assert conf.nitride.topic == 'nitride-vault'


def test_quieting_never_shortens_the_interval(monkeypatch):
    monkeypatch.setattr(amqpdriver, 'ACK_REQUEUE_EVERY_SECONDS_MIN', 3.0)
    rpc.quiet_idle_polling()
    assert amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MIN == 3.0
    monkeypatch.delattr(amqpdriver, 'ACK_REQUEUE_EVERY_SECONDS_MIN')
    rpc.quiet_idle_polling()  # a future oslo.messaging: warns, no error
