// Progressive enhancement only: every page works without JavaScript. This is a module file
// rather than inline script so that the Content Security Policy (script-src 'self') holds.
import { initAll } from "/assets/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
