# Sourced by .ci/run (and by developers: `source .ci/docker-engine.sh; start_docker_engine`).
# Starts a private dockerd: its own default bridge in 198.18.0.0/15 so nothing lands in
# 172.17/16, --iptables=false, overlay2, data and exec roots under a temp folder. Stops it by PID after removing
# the networks it created, so no br-* bridge or route stays on the host.
# Exports DOCKER_HOST and TESTCONTAINERS_RYUK_DISABLED=true (clean-up is by label: meshconform.run=<run-id>);
# `prepare_docker_engine` exports them before the engine starts (processes started meanwhile reach it once it runs).

MC_DOCKER_BRIDGE=${MC_DOCKER_BRIDGE:-mcdockerbr0}
MC_DOCKER_BRIDGE_CIDR=${MC_DOCKER_BRIDGE_CIDR:-198.19.255.1/24}
MC_DOCKERD_PID=
MC_DOCKER_DIR=

# The engine's folder and socket: exports DOCKER_HOST and TESTCONTAINERS_RYUK_DISABLED without starting it.
prepare_docker_engine() {
  [ -n "$MC_DOCKER_DIR" ] || MC_DOCKER_DIR=$(mktemp -d /tmp/meshconform-dockerd.XXXXXX)
  export DOCKER_HOST="unix://$MC_DOCKER_DIR/docker.sock" TESTCONTAINERS_RYUK_DISABLED=true
}

start_docker_engine() {
  command -v dockerd >/dev/null || { echo "start_docker_engine: dockerd not installed (apt-get install docker.io)"; return 1; }
  local net=${MC_DOCKER_BRIDGE_CIDR%.*}.0/24
  if ip route show "$net" | grep -q . && ! ip link show "$MC_DOCKER_BRIDGE" >/dev/null 2>&1; then
    echo "start_docker_engine: $net is already routed on this host: $(ip route show "$net")"; return 1
  fi
  prepare_docker_engine
  if ! ip link show "$MC_DOCKER_BRIDGE" >/dev/null 2>&1; then
    ip link add "$MC_DOCKER_BRIDGE" type bridge && ip addr add "$MC_DOCKER_BRIDGE_CIDR" dev "$MC_DOCKER_BRIDGE" || return 1
  fi
  ip link set "$MC_DOCKER_BRIDGE" up
  dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false \
    -H "unix://$MC_DOCKER_DIR/docker.sock" --data-root "$MC_DOCKER_DIR/data" \
    --exec-root "$MC_DOCKER_DIR/exec" --pidfile "$MC_DOCKER_DIR/docker.pid" \
    --bridge="$MC_DOCKER_BRIDGE" --default-address-pool base=198.19.0.0/16,size=24 \
    >"$MC_DOCKER_DIR/dockerd.log" 2>&1 &
  MC_DOCKERD_PID=$!
  local i
  for i in $(seq 1 150); do
    if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
      echo "dockerd $(docker version --format '{{.Server.Version}}') ready (pid $MC_DOCKERD_PID, DOCKER_HOST=$DOCKER_HOST)"
      return 0
    fi
    kill -0 "$MC_DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "start_docker_engine: dockerd did not become ready; its log:"; tail -n 30 "$MC_DOCKER_DIR/dockerd.log"
  stop_docker_engine
  return 1
}

stop_docker_engine() {
  [ -n "$MC_DOCKER_DIR" ] || return 0
  if [ -n "$MC_DOCKERD_PID" ] && kill -0 "$MC_DOCKERD_PID" 2>/dev/null; then
    # Containers first (networks with endpoints cannot be removed), then every user-defined network.
    docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1
    docker network ls --filter type=custom -q | xargs -r docker network rm >/dev/null 2>&1
    kill -TERM "$MC_DOCKERD_PID" 2>/dev/null
    local i
    for i in $(seq 1 100); do kill -0 "$MC_DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$MC_DOCKERD_PID" 2>/dev/null && kill -KILL "$MC_DOCKERD_PID" 2>/dev/null
    wait "$MC_DOCKERD_PID" 2>/dev/null
  fi
  ip link del "$MC_DOCKER_BRIDGE" 2>/dev/null
  rm -rf "$MC_DOCKER_DIR"
  MC_DOCKERD_PID=
  MC_DOCKER_DIR=
}
