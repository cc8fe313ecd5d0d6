"""Nitride's decisions: registration, challenges, attestation, release.

The RPC manager and the guest HTTP API are thin layers over
:class:`Engine`. It keeps no state of its own: nonces, bindings,
attestations and the audit log live in the database, so any number of
workers behave as one. Every decision is audited before it is answered.
"""

import base64
import datetime
import hmac
import typing

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_log import log as logging

from buckypaper_os import attestation
from buckypaper_os import binding
from buckypaper_os.nitride_service import allowlist
from buckypaper_os.nitride_service import appraisal
from buckypaper_os.nitride_service import audit
from buckypaper_os.nitride_service.db import api as db_api
from buckypaper_os.nitride_service import decision
from buckypaper_os.nitride_service import ratelimit
from buckypaper_os.nitride_service import token
from buckypaper_os.nitride_service import token_keys
from buckypaper_os.nitride_service import verifier

LOG = logging.getLogger(__name__)

NONCE_SIZE = db_api.NONCE_BYTES
#: A TEE public key (suite byte + ML-KEM-768+X25519 key) is 1217 bytes;
#: nothing legitimate is larger than this.
MAX_PUBLIC_KEY = 4096
AFFIRMING = attestation.result.Tier.AFFIRMING.value
WARNING = attestation.result.Tier.WARNING.value
CONTRAINDICATED = attestation.result.Tier.CONTRAINDICATED.value
SIMULATED = 'buckypaper.simulated'


class Refused(Exception):
    """A request that is refused, with its reasons and an HTTP status.

    Its arguments are the reasons and the code, so oslo.messaging rebuilds
    it unchanged on the calling side. ``retry_after`` (seconds, for the
    guest API's Retry-After header) stays in the process.
    """

    def __init__(self, reasons: typing.Union[str, typing.Sequence[str]],
                 code: int = 403,
                 retry_after: typing.Optional[int] = None) -> None:
        self.reasons = [reasons] if isinstance(reasons, str) else list(
            reasons)
        self.code = code
        self.retry_after = retry_after
        super().__init__(self.reasons, code)

    def __str__(self) -> str:
        return '; '.join(self.reasons)


def b64encode(data: bytes) -> str:
    """Standard base64 text of ``data`` (the wire form of bytes)."""
    return base64.b64encode(data).decode('ascii')


def b64decode(text, what: str, max_size: int) -> bytes:
    """Bytes of base64 ``text``; :class:`Refused` (400) if it is not."""
    if not isinstance(text, str) or len(text) > (max_size * 4) // 3 + 4:
        raise Refused('%s must be base64 of at most %d bytes'
                      % (what, max_size), 400)
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        raise Refused('%s is not base64' % what, 400) from None
    if len(data) > max_size:
        raise Refused('%s must be base64 of at most %d bytes'
                      % (what, max_size), 400)
    return data


class Engine:
    """The verifier service's logic, shared by RPC and HTTP."""

    def __init__(self, conf: cfg.ConfigOpts,
                 auditor: typing.Optional[audit.Auditor] = None,
                 decision_key=None) -> None:
        self.conf = conf
        self.keys = token_keys.TokenKeys(conf)
        self.signer = self.keys.signer
        #: Signs release decisions for the Vault: only the RPC workers
        #: hold it (see :func:`.service.build_engine`); without it every
        #: release is refused.
        self.decision_key = decision_key
        self.verifier = verifier.Verifier(
            conf.nitride.simulated_tee_trust_dir,
            conf.attestation.collateral_cache_dir)
        if not self.verifier.cached_collateral:
            LOG.warning('[attestation] collateral_cache_dir is unset: '
                        'revocation and TCB data are only what guests '
                        'send (an SEV-SNP guest may leave out the CRL).')
        #: The operator's appraisal policy, under every other document.
        self.default_policy = appraisal.load(conf.attestation.policy_file)
        #: The measurements registrations may name (None: any).
        self.allowed_measurements = allowlist.load(
            conf.nitride.allowed_measurements_file)
        #: What tokens name as the policy they were appraised under.
        self.policy_id = appraisal.policy_id(self.default_policy,
                                             self.allowed_measurements)
        self.auditor = auditor or audit.Auditor()

    # Registration (Nova)

    def register(self, instance_uuid: str, project_id: str, tee: str,
                 measurements: typing.Sequence[str],
                 binding_hex: typing.Optional[str] = None,
                 policy: typing.Optional[dict] = None,
                 flavor_id: typing.Optional[str] = None) -> dict:
        """Record an instance's reference values and launch binding.

        The binding is recomputed here from the instance and project; a
        caller-supplied one must equal it.
        """
        try:
            if tee not in binding.TEES:
                raise Refused('unknown TEE %r' % (tee,), 400)
            expected = binding.instance_binding(tee, instance_uuid,
                                                project_id).hex()
            if binding_hex is not None and not hmac.compare_digest(
                    str(binding_hex).lower().encode(), expected.encode()):
                raise Refused('binding is not the documented binding of '
                              'this instance and project', 400)
            document = appraisal.validate(policy or {})
            if not measurements:
                # With none, the evidence of any image would pass.
                raise Refused('at least one reference measurement is '
                              'required', 400)
            # Checked, and in the policy's one spelling (hex accepts spaces
            # and capitals): the allowlist and the evidence compare these.
            measurements = list(attestation.Policy.from_dict(
                {'measurements': list(measurements)}).measurements)
            outside = set(measurements) - set(allowlist.permitted(
                self.allowed_measurements, measurements))
            if outside:
                raise Refused('measurement %s is not in the operator\'s '
                              'allowed measurements' % min(outside), 403)
        except (ValueError, TypeError) as exc:
            self._refuse('register', Refused(str(exc), 400), instance_uuid,
                         project_id)
        except Refused as exc:
            self._refuse('register', exc, instance_uuid, project_id)
        existing = db_api.binding_get(instance_uuid)
        if existing is None:
            try:
                db_api.binding_create(instance_uuid, project_id, tee,
                                      expected)
            except db_exc.DBDuplicateEntry:  # a concurrent registration won
                existing = db_api.binding_get(instance_uuid)
        # The binding decides: only its project and TEE may set references.
        if existing is not None and (existing['project_id'] != project_id
                                     or existing['tee'] != tee):
            self._refuse('register', Refused(
                'instance is registered to another project or TEE', 409),
                instance_uuid, project_id)
        if existing is not None:
            db_api.rates_ensure(instance_uuid)
        db_api.reference_set(instance_uuid, project_id, tee, measurements,
                             document, flavor_id)
        self.auditor.record('register', 'registered',
                            instance_uuid=instance_uuid,
                            project_id=project_id, tee=tee)
        return {'instance_uuid': instance_uuid, 'tee': tee,
                'binding': expected}

    def remove(self, instance_uuid: str) -> bool:
        """Forget an instance; its tokens no longer release anything."""
        reference = db_api.reference_get(instance_uuid)
        removed = db_api.binding_delete(instance_uuid)
        removed = db_api.reference_delete(instance_uuid) or removed
        db_api.rates_delete(instance_uuid)
        self.auditor.record(
            'remove', 'removed' if removed else 'unknown',
            instance_uuid=instance_uuid,
            project_id=reference and reference['project_id'])
        return removed

    # Guest flow: challenge and attest

    def challenge(self, instance_uuid: str) -> dict:
        """A fresh single-use nonce for a registered instance."""
        reference = self._reference('challenge', instance_uuid)
        wait = ratelimit.retry_after(self.conf, 'challenge', instance_uuid)
        if wait is None:  # removed since the lookup above
            self._refuse('challenge', Refused('unknown instance', 404),
                         instance_uuid, reference['project_id'])
        if wait:
            self._refuse('challenge', Refused(
                'too many challenges for this instance; retry in %d s'
                % wait, 429, retry_after=wait),
                instance_uuid, reference['project_id'])
        lifetime = self.conf.nitride.nonce_lifetime
        with self.auditor.deciding('challenge', 'issued',
                                   instance_uuid=instance_uuid,
                                   project_id=reference['project_id']
                                   ) as connection:
            nonce = db_api.nonce_create(instance_uuid, lifetime,
                                        connection=connection)
        return {'nonce': b64encode(nonce), 'expires_in': lifetime,
                'tee': reference['tee']}

    def attest(self, instance_uuid: str, nonce: bytes, evidence: bytes,
               certs: typing.Sequence[bytes], tee_public_key: bytes,
               collateral: typing.Optional[typing.Mapping[str, bytes]] = None
               ) -> dict:
        """Verify a guest's evidence for a challenge; a signed token.

        Raises :class:`Refused` with the reasons when the evidence is not
        affirming (or warning) for this instance and this challenge.
        """
        reference = self._reference('attest', instance_uuid)
        project_id = reference['project_id']
        if not 0 < len(tee_public_key) <= MAX_PUBLIC_KEY:
            self._refuse('attest', Refused(
                'tee_public_key must be 1..%d bytes' % MAX_PUBLIC_KEY, 400),
                instance_uuid, project_id)
        try:
            db_api.nonce_consume(instance_uuid, nonce)
        except db_api.NonceRefused as exc:
            self._refuse('attest', Refused(str(exc)), instance_uuid,
                         project_id)
        tee = reference['tee']
        try:
            policy, lifetime = self._policy(reference, nonce, tee_public_key)
            result, simulated = self.verifier.verify(
                evidence, tee=tee, certs=certs, collateral=collateral,
                at=None, policy=policy)
        except (attestation.EvidenceError, appraisal.PolicyError) as exc:
            self._refuse('attest', Refused(str(exc), 400), instance_uuid,
                         project_id)
        received = {'evidence': b64encode(evidence),
                    'certificates': [b64encode(c) for c in certs],
                    'collateral': {name: b64encode(data) for name, data
                                   in (collateral or {}).items()}}
        if result.status == CONTRAINDICATED:
            with self.auditor.deciding('attest', audit.REFUSED,
                                       result.reasons,
                                       instance_uuid=instance_uuid,
                                       project_id=project_id) as connection:
                db_api.attestation_create(
                    instance_uuid, project_id, tee, result.status,
                    result.claims, result.reasons, simulated, received,
                    connection=connection)
            raise Refused(result.reasons)
        extra = {appraisal.POLICY_ID: self.policy_id}
        if simulated:
            extra[SIMULATED] = True
        issued = token.issue(self.signer, result, instance_uuid, project_id,
                             tee_public_key, lifetime, extra=extra)
        expires = datetime.datetime.fromtimestamp(
            issued.claims['exp'], datetime.timezone.utc).replace(tzinfo=None)
        with self.auditor.deciding('attest', result.status, result.reasons,
                                   instance_uuid=instance_uuid,
                                   project_id=project_id, jti=issued.jti,
                                   simulated=simulated) as connection:
            db_api.attestation_create(
                instance_uuid, project_id, tee, result.status, result.claims,
                result.reasons, simulated, received, issued.jti,
                issued.token, expires, connection=connection)
        return {'token': issued.token, 'status': result.status,
                'reasons': result.reasons, 'expires_in': lifetime,
                'simulated': simulated}

    def _policy(self, reference: dict, nonce: bytes,
                tee_public_key: bytes
                ) -> typing.Tuple[attestation.Policy, int]:
        instance, project = reference['instance_uuid'], reference[
            'project_id']
        fixed = {'report_data': binding.report_data(
            nonce, tee_public_key).hex()}
        measurements = allowlist.permitted(self.allowed_measurements,
                                           reference['measurements'] or ())
        if not measurements:  # fail closed: no measurement, no check
            self._refuse('attest', Refused(
                'no registered measurement of this instance is in the '
                'operator\'s allowed measurements'
                if reference['measurements'] else
                'the instance has no registered measurement'),
                instance, project)
        fixed['measurements'] = measurements
        if reference['tee'] == binding.SNP:
            fixed['host_data'] = binding.host_data(instance, project).hex()
        else:
            fixed['mr_config_id'] = binding.mr_config_id(instance,
                                                         project).hex()
        documents = [self.default_policy, reference['project_policy'],
                     reference['flavor_policy'], reference['policy']]
        return appraisal.effective(documents, fixed,
                                   self.conf.nitride.token_lifetime,
                                   floor=self.default_policy)

    # Stateless verification (operators, tests)

    def verify(self, evidence: bytes, *, tee: typing.Optional[str] = None,
               certs: typing.Sequence[bytes] = (),
               collateral: typing.Optional[typing.Mapping[str, bytes]] = None,
               at: typing.Optional[datetime.datetime] = None,
               policy: typing.Optional[dict] = None) -> dict:
        """The verdict on evidence, bound to no instance or challenge.

        Appraised with ``policy``, or else the operator's policy file.
        """
        document = self.default_policy if policy is None else policy
        try:
            appraised, _ = appraisal.effective([document], {}, 0,
                                               floor=self.default_policy)
            result, simulated = self.verifier.verify(
                evidence, tee=tee, certs=certs, collateral=collateral,
                at=at, policy=appraised)
        except (attestation.EvidenceError, appraisal.PolicyError) as exc:
            self._refuse('verify', Refused(str(exc), 400))
        self.auditor.record('verify', result.status, result.reasons)
        return dict(result.to_dict(), simulated=simulated)

    # Release (the Barbican plugin)

    def authorize_release(self, ticket: str, secret_ref: str,
                          project_id: str, release_policy: dict,
                          challenge: str) -> dict:
        """May the secret be released to the TEE that holds ``ticket``?

        The answer is ``{"allowed": True, "tee_public_key": ...,
        "signature": ...}`` only for an unexpired token of an affirming
        attestation (or warning, if so configured) of the instance or
        project the secret is bound to, signed over the caller's
        ``challenge`` (see :mod:`.decision`); without a decision key the
        answer is no. Every other outcome, errors included, is
        ``allowed: False``.
        """
        instance_uuid = None
        try:
            claims = self.verify_ticket(ticket)
            instance_uuid = claims[token.INSTANCE]
            reasons, public_key = self._release_reasons(
                claims, project_id, release_policy)
        except (token.TokenError, KeyError, TypeError, ValueError) as exc:
            reasons, public_key = ['ticket refused: %s' % exc], None
        signature = None
        if not reasons:
            if self.decision_key is None:
                LOG.error('[nitride] decision_key_file is not set: the '
                          'Vault\'s releases are refused')
                reasons = ['the verifier cannot sign decisions']
            else:
                signature = decision.sign(self.decision_key,
                                          decision.statement(
                                              challenge, ticket, secret_ref,
                                              project_id, release_policy,
                                              instance_uuid, public_key))
        allowed = not reasons
        self.auditor.record('release', 'allowed' if allowed else
                            audit.REFUSED, reasons,
                            instance_uuid=instance_uuid,
                            project_id=project_id, secret_ref=secret_ref)
        answer = {'allowed': allowed, 'reasons': reasons,
                  'instance_uuid': instance_uuid}
        if allowed:
            answer.update(tee_public_key=public_key, signature=signature)
        return answer

    def _release_reasons(self, claims: dict, project_id: str,
                         release_policy: dict
                         ) -> typing.Tuple[typing.List[str], str]:
        tee, submod = token.submod(claims)
        instance = claims[token.INSTANCE]
        reasons = []
        facts = db_api.attestation_release_facts(claims['jti'])
        if facts is None or facts[0] != instance:
            reasons.append('no attestation recorded for this ticket')
        elif not facts[1]:
            reasons.append('instance is no longer registered')
        status = submod['ear.status']
        allowed = (AFFIRMING, WARNING) if (
            self.conf.nitride.release_on_warning) else (AFFIRMING,)
        if status not in allowed:
            reasons.append('attestation is %s' % status)
        if not hmac.compare_digest(str(submod.get(appraisal.POLICY_ID)),
                                   self.policy_id):
            reasons.append('the attestation was appraised under another '
                           'operator policy (policy file or allowed '
                           'measurements)')
        reported = submod.get(token.CLAIMS) or {}
        if not allowlist.permitted(self.allowed_measurements, [
                reported.get('measurement') or reported.get('mr_td') or '']):
            reasons.append('the attested measurement is no longer in the '
                           'operator\'s allowed measurements')
        if submod.get(SIMULATED) and not self.verifier.simulation:
            reasons.append('attestation is simulated and simulation is '
                           'not trusted')
        if claims[token.PROJECT] != project_id:
            reasons.append('secret belongs to another project')
        reasons += _policy_reasons(release_policy, instance,
                                   claims[token.PROJECT], tee,
                                   submod[token.TCB])
        return reasons, b64encode(token.tee_public_key(claims))

    def verify_ticket(self, ticket: str) -> dict:
        """The claims of a token signed by one of Nitride's keys.

        Raises :class:`token.TokenError` saying why it is refused.
        """
        return self.keys.verify(ticket)

    def admit_release(self, instance_uuid: str, project_id: str,
                      secret_ref: str) -> None:
        """Take a release from an instance's budget, or refuse it (429)."""
        wait = ratelimit.retry_after(self.conf, 'release', instance_uuid)
        if wait is None:
            self._refuse('release', Refused(
                'the ticket\'s instance is no longer registered', 403),
                instance_uuid, project_id, secret_ref=secret_ref)
        if wait:
            self._refuse('release', Refused(
                'too many releases for this instance; retry in %d s'
                % wait, 429, retry_after=wait),
                instance_uuid, project_id, secret_ref=secret_ref)

    # Status, policies, export

    def status(self, instance_uuid: str) -> typing.Optional[dict]:
        """The newest attestation of an instance (without its token)."""
        record = db_api.attestation_get_latest(instance_uuid)
        if record is None:
            return None
        record.pop('token')
        return exportable(record)

    def reference(self, instance_uuid: str) -> typing.Optional[dict]:
        """What an instance's evidence must show (as registered), or None."""
        record = db_api.reference_get(instance_uuid)
        return record and exportable(record)

    def set_policy(self, scope: str, scope_id: str, document: dict,
                   user: typing.Optional[str] = None) -> dict:
        """Store the appraisal policy of a project or flavor."""
        try:
            document = appraisal.validate(document)
            db_api.policy_set(scope, scope_id, document, user)
        except ValueError as exc:
            self._refuse('policy', Refused(str(exc), 400))
        self.auditor.record('policy', 'set', ['%s %s' % (scope, scope_id)],
                            project_id=scope_id if scope == 'project'
                            else None)
        return document

    def get_policy(self, scope: str, scope_id: str) -> typing.Optional[dict]:
        """The appraisal policy document of a project or flavor."""
        return _document(db_api.policy_get(scope, scope_id))

    def export(self, instance_uuid: typing.Optional[str] = None,
               project_id: typing.Optional[str] = None) -> dict:
        """Signed attestation records and audit events, for offline review.

        Each token verifies against ``jwks`` with any JOSE library.
        """
        return {'jwks': self.keys.jwks,
                'attestations': [exportable(r) for r in
                                 db_api.attestation_list(instance_uuid,
                                                         project_id)],
                'audit': [exportable(r) for r in
                          db_api.audit_list(instance_uuid, project_id)]}

    # Helpers

    def _reference(self, event: str, instance_uuid: str) -> dict:
        """A bound instance's reference values and appraisal policies."""
        reference = db_api.registration_get(instance_uuid)
        if reference is None:
            self._refuse(event, Refused('unknown instance', 404),
                         instance_uuid)
        return reference

    def _refuse(self, event: str, exc: Refused,
                instance_uuid: typing.Optional[str] = None,
                project_id: typing.Optional[str] = None,
                **details) -> typing.NoReturn:
        self.auditor.record(event, audit.REFUSED, exc.reasons,
                            instance_uuid=instance_uuid,
                            project_id=project_id, **details)
        raise exc


def _policy_reasons(release_policy: dict, instance: str, project: str,
                    tee: str, reported: dict) -> typing.List[str]:
    """Reasons a secret's release policy does not admit this attestation."""
    if not isinstance(release_policy, dict):
        return ['release policy is not an object']
    reasons = []
    bound_instance = release_policy.get('instance')
    bound_project = release_policy.get('project')
    if bound_instance is None and bound_project is None:
        reasons.append('secret is bound to no instance or project')
    if bound_instance is not None and bound_instance != instance:
        reasons.append('secret is bound to another instance')
    if bound_project is not None and bound_project != project:
        reasons.append('secret is bound to another project')
    wanted_tee = release_policy.get('tee')
    if wanted_tee is not None and wanted_tee != tee:
        reasons.append('secret requires TEE %s, not %s' % (wanted_tee, tee))
    minimums = release_policy.get('min_tcb') or {}
    if not (isinstance(minimums, dict) and all(
            type(v) is int for v in minimums.values())):
        return reasons + ['release policy min_tcb is not an object of '
                          'integers']
    for component, minimum in sorted(minimums.items()):
        value = reported.get(component)
        if not isinstance(value, int) or value < minimum:
            reasons.append('TCB component %s is %s, below the secret\'s '
                           'minimum %d' % (component, value, minimum))
    return reasons


def _document(row: typing.Optional[dict]) -> typing.Optional[dict]:
    return row and row['document']


def json_value(value: typing.Any) -> typing.Any:
    """A column value as JSON carries it: datetimes as ISO 8601 UTC.

    The database keeps naive UTC datetimes; they become strings ending in
    ``Z``. Other values are returned as they are.
    """
    if isinstance(value, datetime.datetime):
        return value.isoformat() + 'Z'
    return value


def exportable(row: dict) -> dict:
    """A database row as exported and served, with :func:`json_value`."""
    return {key: json_value(value) for key, value in row.items()}
