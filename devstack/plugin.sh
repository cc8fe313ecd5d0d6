#!/usr/bin/env bash
# devstack plugin of buckypaper-os: installs the suite, configures
# Barbican's secret store (the Vault), Nova's compute driver and extra-spec
# validators, Nitride's Keystone service user (for its release relay and
# its API's auth_token), service and endpoint, Heat's plugin directory and
# Horizon's dashboard plugin, runs Nitride's RPC worker and API, and
# creates sample confidential flavors. See doc/operator-guide.md.
#
# shellcheck shell=bash

XTRACE=$(set +o | grep xtrace)
set +o xtrace

function install_buckypaper {
    # One environment with Nova and Barbican: the entry points
    # (nova.api.extra_spec_validators, barbican.secretstore.plugin,
    # openstack.cli.extension) are found where the services run.
    setup_develop "$BUCKYPAPER_DIR" cli
}

function _buckypaper_firmware_entry {
    local name=$1 tee=$2 path=$3
    if [[ -f "$path" ]]; then
        echo "  - name: $name"
        echo "    path: $path"
        echo "    sha384: $(sha384sum "$path" | cut -d' ' -f1)"
        echo "    tees: [$tee]"
    fi
}

function configure_nitride {
    sudo install -d -o "$STACK_USER" -m 0750 "$BUCKYPAPER_CONF_DIR"
    install -d -m 0700 "$BUCKYPAPER_STATE_DIR"
    if [[ ! -f "$NITRIDE_TOKEN_KEY" ]]; then
        (umask 077 && openssl genpkey -algorithm EC \
            -pkeyopt ec_paramgen_curve:P-384 -out "$NITRIDE_TOKEN_KEY")
    fi
    if [[ ! -f "$NITRIDE_DECISION_KEY" ]]; then
        (umask 077 && openssl genpkey -algorithm ED25519 \
            -out "$NITRIDE_DECISION_KEY")
    fi
    # Its public half: the Vault takes only decisions signed by it.
    openssl pkey -in "$NITRIDE_DECISION_KEY" -pubout \
        -out "$NITRIDE_DECISION_PUBKEY"
    iniset "$BUCKYPAPER_CONF" DEFAULT transport_url "$(get_transport_url)"
    iniset "$BUCKYPAPER_CONF" DEFAULT debug "$ENABLE_DEBUG_LOG_LEVEL"
    iniset "$BUCKYPAPER_CONF" database connection \
        "$(database_connection_url nitride)"
    iniset "$BUCKYPAPER_CONF" nitride topic "$NITRIDE_TOPIC"
    iniset "$BUCKYPAPER_CONF" nitride token_key_file "$NITRIDE_TOKEN_KEY"
    iniset "$BUCKYPAPER_CONF" nitride decision_key_file \
        "$NITRIDE_DECISION_KEY"
    iniset "$BUCKYPAPER_CONF" nitride_api bind_host "$NITRIDE_API_HOST"
    iniset "$BUCKYPAPER_CONF" nitride_api bind_port "$NITRIDE_API_PORT"
    iniset "$BUCKYPAPER_CONF" oslo_messaging_notifications driver messagingv2
    # Forget servers Nova deleted without its driver (compute host down).
    iniset "$BUCKYPAPER_CONF" nitride nova_notification_topics \
        versioned_notifications
    if [[ "$BUCKYPAPER_SIMULATED_TEE" == "True" ]]; then
        local pki=$BUCKYPAPER_STATE_DIR/simulated-tee
        if [[ ! -d "$pki" ]]; then
            "$BUCKYPAPER_BIN_DIR/buckypaper-simulated-tee" init "$pki"
        fi
        iniset "$BUCKYPAPER_CONF" nitride simulated_tee_trust_dir "$pki"
    fi
    if is_service_enabled barbican; then
        iniset "$BUCKYPAPER_CONF" nitride_release barbican_endpoint \
            "$(_buckypaper_barbican_url)"
    fi
    if is_service_enabled keystone; then
        create_nitride_accounts
        # The authenticated API validates tokens as the service user.
        configure_keystone_authtoken_middleware "$BUCKYPAPER_CONF" \
            "$NITRIDE_SERVICE_USER"
        if is_service_enabled barbican; then
            configure_nitride_relay_auth
        fi
    fi
}

function create_nitride_accounts {
    local user
    user=$(get_or_create_user "$NITRIDE_SERVICE_USER" "$SERVICE_PASSWORD" \
        "$SERVICE_DOMAIN_NAME")
    get_or_add_user_project_role "$NITRIDE_SERVICE_ROLE" "$user" \
        "$SERVICE_PROJECT_NAME" "$SERVICE_DOMAIN_NAME" "$SERVICE_DOMAIN_NAME"
    # Tenants give this ID read access to their disk keys (key bind
    # --nitride-user, the Heat templates' nitride_user).
    echo "$user" > "$NITRIDE_USER_ID_FILE"
    # Horizon's plugin finds Nitride's API by this service type.
    get_or_create_service "$NITRIDE_SERVICE_NAME" "$NITRIDE_SERVICE_TYPE" \
        "buckypaper-os attestation verifier (Nitride)"
    get_or_create_endpoint "$NITRIDE_SERVICE_TYPE" "$REGION_NAME" \
        "$NITRIDE_API_URL"
}

function configure_nitride_relay_auth {
    local group=$NITRIDE_RELAY_AUTH_GROUP
    iniset "$BUCKYPAPER_CONF" "$group" auth_type password
    iniset "$BUCKYPAPER_CONF" "$group" auth_url "$KEYSTONE_SERVICE_URI"
    iniset "$BUCKYPAPER_CONF" "$group" username "$NITRIDE_SERVICE_USER"
    iniset "$BUCKYPAPER_CONF" "$group" password "$SERVICE_PASSWORD"
    iniset "$BUCKYPAPER_CONF" "$group" project_name "$SERVICE_PROJECT_NAME"
    iniset "$BUCKYPAPER_CONF" "$group" user_domain_name \
        "$SERVICE_DOMAIN_NAME"
    iniset "$BUCKYPAPER_CONF" "$group" project_domain_name \
        "$SERVICE_DOMAIN_NAME"
}

function configure_heat_buckypaper {
    # Heat loads third-party resources only from plugin_dirs. As heat's
    # own devstack plugin does for ENABLE_HEAT_PLUGINS: a link with a
    # unique name in $HEAT_PLUGIN_DIR, which becomes plugin_dirs.
    mkdir -p "$HEAT_PLUGIN_DIR"
    ln -sfn "$BUCKYPAPER_HEAT_PLUGIN_DIR" "$HEAT_PLUGIN_DIR/buckypaper"
    iniset "$HEAT_CONF" DEFAULT plugin_dirs "$HEAT_PLUGIN_DIR"
}

function configure_horizon_buckypaper {
    # As devstack's dashboard plugins do: Horizon loads the panels named
    # by the enabled/ files in local/enabled, then its static files are
    # collected and compressed again and Apache restarted (Horizon runs
    # already in the extra phase).
    local enabled=$HORIZON_DIR/openstack_dashboard/local/enabled file
    for file in "$BUCKYPAPER_DASHBOARD_ENABLED_DIR"/_9*.py; do
        [[ -f "$file" ]] || die $LINENO \
            "no dashboard enabled/ files in $BUCKYPAPER_DASHBOARD_ENABLED_DIR"
        ln -fs "$file" "$enabled/"
    done
    "$PYTHON" "$HORIZON_DIR/manage.py" collectstatic --noinput
    "$PYTHON" "$HORIZON_DIR/manage.py" compress --force
    restart_apache_server
}

function _buckypaper_barbican_url {
    echo "${BARBICAN_SERVICE_PROTOCOL:-$SERVICE_PROTOCOL}://$SERVICE_HOST/key-manager"
}

function configure_barbican_vault {
    if [[ ! -f "$BUCKYPAPER_VAULT_KEK" ]]; then
        "$BUCKYPAPER_BIN_DIR/buckypaper-vault-rotate-kek" \
            --generate "$BUCKYPAPER_VAULT_KEK"
    fi
    iniset "$BARBICAN_CONF" secretstore enabled_secretstore_plugins \
        buckypaper_vault
    iniset "$BARBICAN_CONF" buckypaper_vault connection \
        "$(database_connection_url barbican)"
    iniset "$BARBICAN_CONF" buckypaper_vault kek_files "$BUCKYPAPER_VAULT_KEK"
    iniset "$BARBICAN_CONF" buckypaper_vault transport_url \
        "$(get_transport_url)"
    iniset "$BARBICAN_CONF" buckypaper_vault nitride_topic "$NITRIDE_TOPIC"
    iniset "$BARBICAN_CONF" buckypaper_vault nitride_decision_key_files \
        "$NITRIDE_DECISION_PUBKEY"
}

function init_barbican_vault {
    # Barbican's own plugin (re)creates its database in this phase; the
    # Vault's tables live there too and are migrated after it.
    "$BUCKYPAPER_BIN_DIR/buckypaper-vault-manage" \
        --config-file "$BARBICAN_CONF" db sync
}

function configure_nova_buckypaper {
    local catalog
    catalog=$(
        echo "firmware:"
        _buckypaper_firmware_entry ovmf-amdsev sev-snp \
            "$BUCKYPAPER_SNP_FIRMWARE"
        _buckypaper_firmware_entry ovmf-inteltdx tdx \
            "$BUCKYPAPER_TDX_FIRMWARE"
    )
    echo "$catalog" | sudo tee "$BUCKYPAPER_FIRMWARE_CATALOG" > /dev/null
    local conf
    for conf in "$NOVA_CONF" "$NOVA_CPU_CONF"; do
        iniset "$conf" DEFAULT compute_driver \
            buckypaper.BuckypaperLibvirtDriver
        iniset "$conf" buckypaper_compute firmware_catalog \
            "$BUCKYPAPER_FIRMWARE_CATALOG"
        iniset "$conf" nitride topic "$NITRIDE_TOPIC"
    done
    # Versioned notifications: Nitride forgets deleted servers from them.
    iniset "$NOVA_CONF" notifications notification_format both
    iniset "$NOVA_CONF" oslo_messaging_notifications driver messagingv2
    # For flavors with buckypaper:disk_key=generate (the guest's metadata
    # and the key's ACL); the user exists with Barbican and Keystone.
    iniset "$NOVA_CPU_CONF" buckypaper_compute nitride_guest_url \
        "$NITRIDE_GUEST_URL"
    if is_service_enabled barbican && [[ -f "$NITRIDE_USER_ID_FILE" ]]; then
        iniset "$NOVA_CPU_CONF" buckypaper_compute nitride_user_id \
            "$(< "$NITRIDE_USER_ID_FILE")"
    fi
}

function init_nitride {
    recreate_database nitride
    "$BUCKYPAPER_BIN_DIR/buckypaper-nitride-manage" \
        --config-file "$BUCKYPAPER_CONF" db sync
}

function start_nitride {
    run_process nitride \
        "$BUCKYPAPER_BIN_DIR/buckypaper-nitride --config-file $BUCKYPAPER_CONF"
    run_process nitride-api \
        "$BUCKYPAPER_BIN_DIR/buckypaper-nitride-api --config-file $BUCKYPAPER_CONF"
}

function start_buckypaper_compute {
    # nova-compute loads compute_driver only from nova.virt.*; our
    # console script registers nova.virt.buckypaper and runs nova-compute.
    stop_process n-cpu
    run_process n-cpu \
        "$BUCKYPAPER_BIN_DIR/buckypaper-nova-compute --config-file $NOVA_CPU_CONF" \
        "$LIBVIRT_GROUP"
}

function create_buckypaper_flavors {
    local spec name tee vcpus ram disk disk_key options
    for spec in $BUCKYPAPER_FLAVORS; do
        IFS=: read -r name tee vcpus ram disk disk_key <<< "$spec"
        options=(--tee "$tee" --vcpus "$vcpus" --ram "$ram" --disk "$disk")
        if [[ -n "$disk_key" ]]; then
            # The Nova driver creates the key in Barbican.
            is_service_enabled barbican || continue
            options+=(--disk-key "$disk_key")
        fi
        if openstack --os-cloud devstack-admin flavor show "$name" \
                > /dev/null 2>&1; then
            continue
        fi
        # The broker URL holds its password: in the environment, not in
        # argv, which every local user can read.
        OS_NITRIDE_TRANSPORT_URL="$(get_transport_url)" \
            openstack --os-cloud devstack-admin \
            confidential flavor create "$name" "${options[@]}"
    done
}

function stop_nitride {
    stop_process nitride-api
    stop_process nitride
}

function cleanup_buckypaper {
    sudo rm -rf "$BUCKYPAPER_STATE_DIR" "$BUCKYPAPER_CONF_DIR"
}

if is_service_enabled nitride nitride-api; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing buckypaper-os"
        install_buckypaper
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring buckypaper-os"
        configure_nitride
        if is_service_enabled barbican \
                && [[ "$BUCKYPAPER_VAULT_ENABLED" == "True" ]]; then
            configure_barbican_vault
        fi
        if is_service_enabled n-cpu \
                && [[ "$BUCKYPAPER_NOVA_DRIVER" == "True" ]]; then
            configure_nova_buckypaper
        fi
        if is_service_enabled heat; then
            configure_heat_buckypaper
        fi
        init_nitride
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        if is_service_enabled barbican \
                && [[ "$BUCKYPAPER_VAULT_ENABLED" == "True" ]]; then
            init_barbican_vault
        fi
        echo_summary "Starting Nitride"
        start_nitride
        if is_service_enabled n-cpu \
                && [[ "$BUCKYPAPER_NOVA_DRIVER" == "True" ]]; then
            start_buckypaper_compute
        fi
        if is_service_enabled nova; then
            create_buckypaper_flavors
        fi
        if is_service_enabled horizon; then
            echo_summary "Enabling buckypaper-os in Horizon"
            configure_horizon_buckypaper
        fi
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_nitride
    fi
    if [[ "$1" == "clean" ]]; then
        cleanup_buckypaper
    fi
fi

$XTRACE
