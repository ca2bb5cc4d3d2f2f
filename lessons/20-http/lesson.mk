# lesson.mk — lesson 20: the server serves the lesson's www folder by
# default, from beside its program; make copies it there (a prerequisite
# of the program, so building the program brings it up to date).
LESSON20_WWW := $(shell find lessons/20-http/www -type f 2>/dev/null)
$(B)/lessons/20-http/server: $(B)/lessons/20-http/www/.copied
$(B)/lessons/20-http/www/.copied: $(LESSON20_WWW)
	@rm -rf $(@D) && mkdir -p $(@D) && cp -R lessons/20-http/www/. $(@D) && touch $@
