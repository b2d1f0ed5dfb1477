package main

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// parseOwner reads chown(1)'s OWNER[:GROUP]: "OWNER" changes the owner,
// "OWNER:GROUP" both, ":GROUP" the group only, and "OWNER:" the owner and
// the group to OWNER's login group. A name is looked up first and a
// number is taken as an ID when no user or group has that name; "+N" is
// always the ID N. It returns -1 for what is left unchanged.
func parseOwner(s string) (uid, gid int, err error) {
	owner, group, colon := strings.Cut(s, ":")
	if owner == "" && group == "" {
		return 0, 0, fmt.Errorf("invalid owner %s: want OWNER[:GROUP] or :GROUP", quote(s))
	}
	uid, gid = -1, -1
	if owner != "" {
		var u *user.User
		if uid, u, err = lookupUser(owner); err != nil {
			return 0, 0, err
		}
		if colon && group == "" {
			// "OWNER:": the login group, which a bare number without a
			// user of that ID does not have.
			if u == nil {
				if u, err = user.LookupId(strconv.Itoa(uid)); err != nil {
					return 0, 0, fmt.Errorf("%s: no such user, so no login group to take", quote(owner))
				}
			}
			if gid, err = strconv.Atoi(u.Gid); err != nil {
				return 0, 0, fmt.Errorf("%s: login group %s is not numeric", quote(owner), quote(u.Gid))
			}
		}
	}
	if group != "" {
		if gid, err = lookupGroup(group); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

// lookupUser finds a user by name, or takes an ID; u is the user found by
// name, if any.
func lookupUser(name string) (id int, u *user.User, err error) {
	if n, ok := parseID(name); ok && strings.HasPrefix(name, "+") {
		return n, nil, nil
	}
	if u, err := user.Lookup(name); err == nil {
		id, err := strconv.Atoi(u.Uid)
		return id, u, err
	}
	if n, ok := parseID(name); ok {
		return n, nil, nil
	}
	return 0, nil, fmt.Errorf("invalid user %s", quote(name))
}

// lookupGroup finds a group by name, or takes an ID.
func lookupGroup(name string) (int, error) {
	if n, ok := parseID(name); ok && strings.HasPrefix(name, "+") {
		return n, nil
	}
	if g, err := user.LookupGroup(name); err == nil {
		return strconv.Atoi(g.Gid)
	}
	if n, ok := parseID(name); ok {
		return n, nil
	}
	return 0, fmt.Errorf("invalid group %s", quote(name))
}

// parseID reads a user or group ID, "+N" or "N": 0 to 2^32-2 (2^32-1 is
// the -1 of chown(2), "unchanged").
func parseID(s string) (int, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 32)
	if err != nil || n == 1<<32-1 || strings.HasPrefix(s, "+-") {
		return 0, false
	}
	return int(n), true
}
