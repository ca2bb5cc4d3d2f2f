/* ui.h — the screen: curses set-up, layout, colours, keys, and the loop
 * between the lesson menu and a session. The views are in views/. */
#ifndef TUI_UI_H
#define TUI_UI_H

#include "lessons.h"
#include "paths.h"
#include "session.h"

/* Run one session on the screen until q. Returns its exit code. */
int ui_session(struct session *s);

/* The lesson menu: pick a lesson (Enter), run it, come back to the menu
 * when it ends; q leaves. base holds the options of every run (record,
 * pcap, netns). Returns the exit code. */
int ui_menu(const struct paths *p, struct lessons *ls, const struct session_opts *base);

#endif
