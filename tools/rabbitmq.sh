#!/usr/bin/env bash
# Start or stop a throw-away RabbitMQ broker on loopback for the tests.
#
#   tools/rabbitmq.sh start STATE_DIR [PORT]   prints the transport URL
#   tools/rabbitmq.sh stop STATE_DIR           (the port is remembered)
#
# Everything (node, epmd, distribution port, AMQP listener) binds 127.0.0.1
# and all state lives under STATE_DIR; the broker is stopped by its PID.
# Debian's /usr/sbin wrappers switch to the rabbitmq user and its fixed
# directories, so the scripts under /usr/lib/rabbitmq/bin are run directly.
set -euo pipefail

bin=/usr/lib/rabbitmq/bin

cmd=${1:?usage: $0 start|stop STATE_DIR [PORT]}
state=$(mkdir -p "${2:?state dir}" && cd "$2" && pwd)
port=${3:-$(cat "$state/port" 2>/dev/null || echo 5672)}

export HOME=$state/home
export RABBITMQ_NODENAME=buckypaper@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=$((port + 20000))
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT=$((port + 100))
export RABBITMQ_MNESIA_BASE=$state/mnesia
export RABBITMQ_LOG_BASE=$state/log
export RABBITMQ_CONFIG_FILE=$state/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$state/enabled_plugins
export RABBITMQ_ADVANCED_CONFIG_FILE=$state/advanced.config
export ERL_CRASH_DUMP=$state/erl_crash.dump

# PIDs listening on TCP port $1 of this machine.
listeners() {
    ss -ltnpH "sport = :$1" | { grep -o 'pid=[0-9]*' || true; } \
        | cut -d= -f2 | sort -u
}

case $cmd in
start)
    if [ -n "$(listeners "$port")" ]; then
        echo "port $port is in use; not starting a broker there" >&2
        exit 1
    fi
    # An epmd already on this port belongs to someone else: never ours.
    foreign_epmd=$(listeners "$ERL_EPMD_PORT")
    rm -f "$state/epmd.pid"
    mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    echo "$port" > "$state/port"
    printf 'loopback_users.guest = true\nlisteners.tcp.default = 127.0.0.1:%s\n' \
        "$port" > "$state/rabbitmq.conf"
    echo '[].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    echo '[].' > "$RABBITMQ_ADVANCED_CONFIG_FILE"
    setsid nohup "$bin/rabbitmq-server" > "$state/server.out" 2>&1 &
    launcher=$!
    echo "$launcher" > "$state/server.pid"
    for _ in $(seq 240); do
        if "$bin/rabbitmqctl" -q await_startup --timeout 1 \
                > /dev/null 2>&1; then
            break
        fi
        if ! kill -0 "$launcher" 2>/dev/null; then
            break
        fi
        sleep 0.5
    done
    if ! "$bin/rabbitmqctl" -q await_startup --timeout 1 > /dev/null 2>&1
    then
        echo "rabbitmq did not start; see $state/server.out" >&2
        tail -5 "$state/server.out" >&2 || true
        exit 1
    fi
    if [ -z "$foreign_epmd" ]; then
        listeners "$ERL_EPMD_PORT" > "$state/epmd.pid"
    fi
    echo "rabbit://guest:guest@127.0.0.1:$port/"
    ;;
stop)
    if [ -f "$state/server.pid" ]; then
        group=$(cat "$state/server.pid")
        kill -TERM -- "-$group" 2>/dev/null || true
        for _ in $(seq 60); do
            pgrep -g "$group" > /dev/null || break
            sleep 0.5
        done
        kill -KILL -- "-$group" 2>/dev/null || true
        rm -f "$state/server.pid"
    fi
    # epmd outlives the node; stop it only if this broker started it and
    # it still listens on this broker's epmd port.
    if [ -f "$state/epmd.pid" ]; then
        for pid in $(listeners "$ERL_EPMD_PORT"); do
            if grep -qx "$pid" "$state/epmd.pid"; then
                kill "$pid" 2>/dev/null || true
            fi
        done
        rm -f "$state/epmd.pid"
    fi
    ;;
*)
    echo "usage: $0 start|stop STATE_DIR [PORT]" >&2
    exit 2
    ;;
esac
