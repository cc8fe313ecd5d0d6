"""The plugin in a real Horizon, driven in headless Chromium.

Alice (project alpha) has an affirming and a contraindicated instance;
Bob (project beta) has none; the admin sees every project. A screenshot
of every page is saved (the directory is printed).
"""

import json
import os
import pathlib
import subprocess
import time

import pytest

pytest.importorskip('openstack_dashboard')

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as conditions  # noqa
from selenium.webdriver.support import ui  # noqa: E402

from buckypaper_os import binding  # noqa: E402
from tests.dashboard import cloud as cloud_mod  # noqa: E402
from tests.unit.nitride import guests  # noqa: E402

WAIT = 60


def login(browser, cloud, user: str) -> None:
    browser.get(cloud.horizon + '/auth/login/')
    browser.find_element(By.ID, 'id_username').send_keys(user)
    browser.find_element(By.ID, 'id_password').send_keys(
        cloud.tenants[user]['password'])
    browser.find_element(By.ID, 'loginBtn').click()
    ui.WebDriverWait(browser, WAIT).until(
        lambda d: '/auth/login' not in d.current_url)


def wait_loaded(browser) -> None:
    ui.WebDriverWait(browser, WAIT).until(
        lambda d: d.execute_script('return document.readyState')
        == 'complete')


def open_page(browser, cloud, path: str, screenshots: pathlib.Path,
              name: str) -> None:
    browser.get(cloud.horizon + path)
    wait_loaded(browser)
    browser.save_screenshot(str(screenshots / ('%s.png' % name)))


def table_rows(browser, table: str) -> dict:
    """Rows of a Horizon table by object id: cell texts."""
    rows = browser.find_elements(
        By.CSS_SELECTOR, 'table#%s tbody tr[data-object-id]' % table)
    return {row.get_attribute('data-object-id'): [
        cell.text for cell in row.find_elements(By.TAG_NAME, 'td')]
        for row in rows}


def texts(browser, selector: str) -> list:
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR,
                                                  selector)]


def test_tenant_sees_tier_and_reasons(cloud, browser, screenshots):
    login(browser, cloud, 'alice')
    open_page(browser, cloud, '/project/attestation/', screenshots,
              'alice-attestation-list')
    rows = table_rows(browser, 'attestations')
    assert set(rows) == set(cloud.instances.values())
    for state, instance in cloud.instances.items():
        assert state in rows[instance]
    # The flavors hint needs Nova; without compute Horizon hides it.
    links = [a.get_attribute('href') for a in browser.find_elements(
        By.CSS_SELECTOR, '#sidebar a')]
    assert cloud.horizon + '/project/attestation/' in links
    assert cloud.horizon + '/project/confidential_flavors/' not in links

    good = cloud.instances['affirming']
    open_page(browser, cloud, '/project/attestation/%s/' % good,
              screenshots, 'alice-affirming')
    assert browser.find_element(By.ID, 'bp-tier').text == 'affirming'
    assert browser.find_element(By.ID, 'bp-tee').text == 'sev-snp'
    assert texts(browser, '#bp-reasons li') == ['none']
    assert browser.find_element(By.ID, 'bp-measurement').text == (
        guests.MEASUREMENT.hex())
    assert browser.find_element(By.ID, 'bp-binding').text == (
        binding.instance_binding('sev-snp', good, cloud.tenants['alice'][
            'project_id']).hex())
    assert browser.find_element(By.ID, 'bp-simulated').text
    assert 'snp' in texts(browser, '#bp-tcb dt')
    assert browser.find_element(By.ID, 'bp-attested-at').text.startswith(
        time.strftime('%Y-'))

    bad = cloud.instances['contraindicated']
    open_page(browser, cloud, '/project/attestation/%s/' % bad,
              screenshots, 'alice-contraindicated')
    tier = browser.find_element(By.ID, 'bp-tier')
    assert tier.text == 'contraindicated'
    assert 'label-danger' in tier.get_attribute('class')
    reasons = texts(browser, '#bp-reasons li')
    assert reasons and any('measurement' in r for r in reasons), reasons
    assert browser.find_element(By.ID, 'bp-measurement').text == (
        cloud_mod.BAD_MEASUREMENT.hex())


def test_tenant_filters_by_state(cloud, browser, screenshots):
    login(browser, cloud, 'alice')
    open_page(browser, cloud, '/project/attestation/', screenshots,
              'alice-filter-before')
    browser.find_element(
        By.CSS_SELECTOR, '.table_search .dropdown-toggle').click()
    browser.find_element(
        By.CSS_SELECTOR, '.table_search a[data-select-value="status"]'
    ).click()
    search = browser.find_element(
        By.CSS_SELECTOR, '.table_search input[name="attestations__filter__q"]')
    search.send_keys('contraindicated')
    table = browser.find_element(By.ID, 'attestations')
    browser.find_element(By.CSS_SELECTOR,
                         '.table_search button[type="submit"]').click()
    ui.WebDriverWait(browser, WAIT).until(conditions.staleness_of(table))
    wait_loaded(browser)
    browser.save_screenshot(str(screenshots / 'alice-filter-after.png'))
    assert list(table_rows(browser, 'attestations')) == [
        cloud.instances['contraindicated']]


def test_records_download_reverifies(cloud, browser, screenshots,
                                     downloads, pki_dir):
    login(browser, cloud, 'alice')
    for state, instance in cloud.instances.items():
        open_page(browser, cloud, '/project/attestation/%s/' % instance,
                  screenshots, 'alice-%s-download' % state)
        browser.find_element(By.ID, 'bp-download').click()
        path = downloads / ('attestation-%s.json' % instance)
        ui.WebDriverWait(browser, WAIT).until(lambda d: path.exists())
        result = subprocess.run(
            [os.path.join(cloud_mod.BIN, 'buckypaper-attest'), 'records',
             str(path), '--simulated-trust-dir', pki_dir],
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert [(r['instance_uuid'], r['status'], r['ok'])
                for r in json.loads(result.stdout)] == [
                    (instance, state, True)]


def test_another_tenant_sees_none_of_it(cloud, browser, screenshots,
                                        downloads):
    login(browser, cloud, 'bob')
    open_page(browser, cloud, '/project/attestation/', screenshots,
              'bob-attestation-list')
    assert table_rows(browser, 'attestations') == {}
    for state, instance in cloud.instances.items():
        for path, name in (('/project/attestation/%s/', 'detail'),
                           ('/project/attestation/%s/records/', 'records')):
            open_page(browser, cloud, path % instance, screenshots,
                      'bob-%s-%s' % (state, name))
            assert not browser.find_elements(By.ID, 'bp-tier')
            assert instance not in browser.find_element(
                By.TAG_NAME, 'body').text.replace(path % instance, '')
            assert not (downloads / ('bob-%s.json' % instance)).exists()
    open_page(browser, cloud, '/admin/confidential_references/',
              screenshots, 'bob-admin-references')
    assert not browser.find_elements(By.CSS_SELECTOR, 'table#references')
    assert 'not authorized' in browser.find_element(By.TAG_NAME,
                                                    'body').text


def test_admin_views(cloud, browser, screenshots):
    login(browser, cloud, 'admin')
    open_page(browser, cloud, '/admin/confidential_references/',
              screenshots, 'admin-references')
    rows = table_rows(browser, 'references')
    assert set(rows) == set(cloud.instances.values())
    assert all(guests.MEASUREMENT.hex() in ' '.join(cells)
               for cells in rows.values())

    open_page(browser, cloud, '/admin/confidential_policies/set/',
              screenshots, 'admin-policy-form')
    alpha = cloud.tenants['alice']['project_id']
    browser.find_element(By.ID, 'id_scope_id').send_keys(alpha)
    document = browser.find_element(By.ID, 'id_document')
    document.clear()
    document.send_keys('{"min_tcb": {"snp": 22}, "token_lifetime": 120}')
    form = browser.find_element(By.TAG_NAME, 'form')
    form.find_element(By.CSS_SELECTOR, '[type="submit"]').click()
    ui.WebDriverWait(browser, WAIT).until(conditions.staleness_of(form))
    wait_loaded(browser)
    assert browser.current_url.endswith('/admin/confidential_policies/')
    browser.save_screenshot(str(screenshots / 'admin-policies.png'))
    rows = table_rows(browser, 'policies')
    assert list(rows) == ['project/%s' % alpha]
    assert '"snp": 22' in ' '.join(rows['project/%s' % alpha])

    open_page(browser, cloud, '/admin/confidential_firmware/', screenshots,
              'admin-firmware')
    firmware = cloud_mod.FIRMWARE
    assert table_rows(browser, 'firmware') == {firmware['name']: [
        firmware['name'], 'sev-snp', firmware['sha384'], firmware['path']]}
