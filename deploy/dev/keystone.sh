# shellcheck shell=bash
# A private Keystone for the dev stack and the tests (source it after lib.sh). Debian's
# keystone package runs under uwsgi on loopback, its database in our private PostgreSQL, all
# state under $GAZE_HOME/keystone. Verified recipe: /work/shared/keystone.md.
#
# ks_start creates, once, the identities Gaze's tests and docs use, with random passwords
# written to $GAZE_HOME/keystone/accounts.env:
#   admin        role admin (implies member, reader) in project admin
#   demo         role member in project demo        demo-reader  role reader in project demo
#   alt          role member in project alt
#   gaze         role service in project service (the identity Gaze validates tokens with)
# and registers Gaze as the `image` service at GAZE_URL in region RegionOne.

KS_APP=/usr/bin/keystone-wsgi-public
KS_UWSGI=/usr/bin/uwsgi_python311

# ks_paths PORT: sets KS_PORT, KS_ROOT, KS_CONF and KS_URL.
ks_paths() {
  KS_PORT=$1
  KS_ROOT=$GAZE_HOME/keystone
  KS_CONF=$KS_ROOT/keystone.conf
  KS_URL=http://127.0.0.1:$KS_PORT/v3
}

ks_manage() { keystone-manage --config-file "$KS_CONF" "$@"; }

# The OpenStack CLI as Keystone's admin, with nothing from the caller's OS_* environment.
ks_openstack() {
  env -u OS_CLOUD -u OS_TOKEN -u OS_AUTH_TYPE -u OS_ENDPOINT \
    OS_AUTH_URL="$KS_URL" OS_IDENTITY_API_VERSION=3 OS_USERNAME=admin \
    OS_PASSWORD="$KS_ADMIN_PASSWORD" OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default \
    OS_PROJECT_DOMAIN_NAME=Default /usr/bin/openstack "$@"
}

# ks_start GAZE_URL: needs PostgreSQL running (pg_paths and pg_start first).
ks_start() {
  local gaze_url=$1
  require_free_port GAZE_KEYSTONE_PORT "$KS_PORT"
  mkdir -p "$KS_ROOT"
  chmod 700 "$KS_ROOT"
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres \
    >/dev/null <<'SQL'
SELECT 'CREATE ROLE keystone LOGIN PASSWORD ''keystone'''
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keystone') \gexec
SELECT 'CREATE DATABASE keystone OWNER keystone'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'keystone') \gexec
SQL
  cat >"$KS_CONF" <<CONF
[DEFAULT]
log_file = $KS_ROOT/keystone.log
[database]
connection = postgresql+psycopg2://keystone:keystone@127.0.0.1:$PG_PORT/keystone
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = $KS_ROOT/fernet-keys
[fernet_receipts]
key_repository = $KS_ROOT/fernet-receipts
[credential]
key_repository = $KS_ROOT/credential-keys
[cache]
# Without it a token validation takes ~460 ms, with it ~6 ms (one process, many threads).
enabled = true
backend = dogpile.cache.memory
CONF
  if [ ! -f "$KS_ROOT/db-synced" ]; then
    log "creating Keystone's database and keys"
    local owner=(--keystone-user "$(id -un)" --keystone-group "$(id -gn)")
    ks_manage db_sync
    ks_manage fernet_setup "${owner[@]}"
    ks_manage credential_setup "${owner[@]}"
    mkdir -p "$KS_ROOT/fernet-receipts"
    touch "$KS_ROOT/db-synced"
  fi
  log "starting Keystone on 127.0.0.1:$KS_PORT"
  # One process with threads: the token cache above is per process. "Connection: close"
  # keeps python-requests from reusing sockets uwsgi has already closed.
  OS_KEYSTONE_CONFIG_FILES=$KS_CONF setsid nohup "$KS_UWSGI" --master --die-on-term \
    --need-app --http-socket "127.0.0.1:$KS_PORT" --wsgi-file "$KS_APP" --processes 1 \
    --threads 8 --enable-threads --lazy-apps --buffer-size 65535 --thunder-lock \
    --add-header "Connection: close" --env "OS_KEYSTONE_CONFIG_FILES=$KS_CONF" \
    --pidfile "$KS_ROOT/uwsgi.pid" >"$KS_ROOT/uwsgi.log" 2>&1 </dev/null &
  echo $! >"$KS_ROOT/launcher.pid"
  local deadline=$((SECONDS + 120))
  until curl -fsS -o /dev/null "$KS_URL"; do
    if ! pid_alive "$(<"$KS_ROOT/launcher.pid")" || ((SECONDS >= deadline)); then
      tail -n 30 "$KS_ROOT/uwsgi.log" "$KS_ROOT/keystone.log" >&2 || true
      ks_stop
      die "Keystone did not start"
    fi
    sleep 0.2
  done
  ks_accounts "$gaze_url"
}

# Creates the projects, users, roles and the catalog entry once; afterwards only points the
# image endpoints at GAZE_URL (its port may change between runs).
ks_accounts() {
  local gaze_url=$1 accounts=$KS_ROOT/accounts.env
  if [ ! -f "$accounts" ]; then
    log "bootstrapping Keystone's accounts"
    (
      umask 077
      for who in ADMIN DEMO DEMO_READER ALT GAZE; do
        echo "KS_${who}_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
      done
    ) >"$accounts.new"
    # shellcheck disable=SC1090
    . "$accounts.new"
    ks_manage bootstrap --bootstrap-password "$KS_ADMIN_PASSWORD" \
      --bootstrap-username admin --bootstrap-project-name admin \
      --bootstrap-role-name admin --bootstrap-service-name keystone \
      --bootstrap-region-id RegionOne --bootstrap-admin-url "$KS_URL" \
      --bootstrap-public-url "$KS_URL" --bootstrap-internal-url "$KS_URL" >/dev/null
    # One CLI process for all of it: each start costs about a second.
    ks_openstack >/dev/null <<CMDS
role create --or-show service
project create --or-show --domain Default demo
project create --or-show --domain Default alt
project create --or-show --domain Default service
user create --or-show --domain Default --password $KS_DEMO_PASSWORD demo
user create --or-show --domain Default --password $KS_DEMO_READER_PASSWORD demo-reader
user create --or-show --domain Default --password $KS_ALT_PASSWORD alt
user create --or-show --domain Default --password $KS_GAZE_PASSWORD gaze
role add --project demo --user demo member
role add --project demo --user demo-reader reader
role add --project alt --user alt member
role add --project service --user gaze service
service create --name glance --description Gaze image
CMDS
    mv "$accounts.new" "$accounts"
  fi
  # shellcheck disable=SC1090
  . "$accounts"
  local ids
  ids=$(ks_openstack endpoint list --service image -f value -c ID)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    ks_openstack endpoint delete $ids >/dev/null
  fi
  ks_openstack >/dev/null <<CMDS
endpoint create --region RegionOne image public $gaze_url
endpoint create --region RegionOne image internal $gaze_url
endpoint create --region RegionOne image admin $gaze_url
CMDS
}

ks_stop() {
  stop_pidfile Keystone "$KS_ROOT/launcher.pid" "$KS_UWSGI"
  rm -f "$KS_ROOT/uwsgi.pid"
}
