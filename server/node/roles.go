package node

import (
	"robustmq/server/broker"
	"robustmq/server/config"
	"robustmq/server/engine"
	"robustmq/server/meta"
	"robustmq/server/node/component"
)

// roleOrder is the start order of the roles; stop runs it backwards.
var roleOrder = []config.Role{config.RoleMeta, config.RoleEngine, config.RoleBroker}

// builders is the one place that maps a role to the constructor of its component. A nil constructor
// means the component is not built yet: the node runs without it and says so. The Meta Service,
// Storage Engine and Broker work replace their nil here.
var builders = map[config.Role]component.New{
	config.RoleMeta:   meta.New,
	config.RoleEngine: engine.New,
	config.RoleBroker: broker.New,
}

// companions are steps that run right after a role's own component, built with the same Env, on
// nodes using the built-in builders table: the engine's dropped-topic watcher (server/engine
// dropped.go), which deletes local shards of topics deleted in the Meta Service.
var companions = map[config.Role]struct {
	name  string
	build component.New
}{
	config.RoleEngine: {"dropper", engine.NewDropper},
}

// statusNotBuilt is the status of a role whose component does not exist yet.
const statusNotBuilt = "not built yet"

// Built reports whether role has a component; a role without one runs as "not built yet".
func Built(role config.Role) bool { return builders[role] != nil }
