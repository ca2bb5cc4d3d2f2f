/* common.h — what ping and sniff share (the code is in common.c, which
 * the build links into both): giving up privileges as soon as the
 * privileged socket is open.
 *
 * A raw or packet socket needs CAP_NET_RAW, but only at the moment
 * socket() is called: the open descriptor keeps working after the
 * capability is gone. So ping and sniff open their socket first and then
 * call drop_privileges(), which
 *
 *  1. becomes an ordinary user again when running as root for someone
 *     else: under sudo (uid 0 and SUDO_UID/SUDO_GID set) that is the sudo
 *     user, in a setuid-root program the real user. Order matters:
 *     setgroups() and setgid() first, while we still may; setuid() last,
 *     which as root sets real, effective and saved uid all at once. Then
 *     it checks that setuid(0) fails — proof that no way back remains;
 *  2. clears every capability (effective, permitted, inheritable) with
 *     capset(); this also covers plain root without sudo (uid 0 stays, but
 *     uid 0 without capabilities cannot override file permissions, kill
 *     other users' processes or open more raw sockets), and a program
 *     given cap_net_raw with setcap;
 *  3. sets PR_SET_NO_NEW_PRIVS, so no exec() could ever hand privileges
 *     back (not even to uid 0 running a setuid program).
 *
 * A program that reads packets from the network parses bytes anyone may
 * have sent; if a bug lets them take it over, they get only what is left
 * after this. tcpdump does the same (its -Z option).
 */
#ifndef LESSON16_COMMON_H
#define LESSON16_COMMON_H

/* Steps 1 to 3 above; exits 1 (after saying why) when one fails. */
void drop_privileges(void);

#endif
