# CR2 standard errors and Satterthwaite degrees of freedom from R's clubSandwich,
# the reference for tests/methods/test_inference.py. Run from the repository root:
#   Rscript tests/methods/r/clubsandwich_cr2.R
# Needs Debian's r-base-core and r-cran-clubsandwich (0.5.8 when generated).
# Writes tests/methods/reference/simulated_panel.csv and tests/methods/reference/clubsandwich_cr2.csv.
# Convention: lm() with explicit unit (and year) dummies, vcovCR(type = "CR2") with its
# default working model (identity for unweighted lm), coef_test(test = "Satterthwaite").
suppressMessages(library(clubSandwich))

cr2_rows <- function(fit, cluster, dataset, model, terms) {
  vc <- vcovCR(fit, cluster = cluster, type = "CR2")
  ct <- coef_test(fit, vcov = vc, test = "Satterthwaite", coefs = terms)
  data.frame(dataset = dataset, model = model, term = terms,
             estimate = coef(fit)[terms], se = ct$SE, df = ct$df_Satt, p = ct$p_Satt,
             row.names = NULL)
}

# 1. Wooldridge's jtrain, Example 14.1 with firm dummies, clustered by firm.
jtrain <- read.csv("tests/methods/reference/jtrain.csv")
jtrain <- jtrain[!is.na(jtrain$lscrap), ]
terms <- c("d88", "d89", "grant", "grant_1")
fit <- lm(lscrap ~ d88 + d89 + grant + grant_1 + factor(fcode), data = jtrain)
out <- cr2_rows(fit, jtrain$fcode, "jtrain", "firm_fe_cluster_firm", terms)

# 2. A simulated unbalanced panel: 70 firms in 7 poles, 6 years, staggered treatment,
#    pole-level shocks; unit and year dummies; clustered by pole and by firm.
set.seed(20240607)
firms <- data.frame(firm = 1:70, pole = rep(1:7, each = 10),
                    cohort = sample(c(0, 2003, 2004, 2005), 70, replace = TRUE))
panel <- merge(firms, data.frame(year = 2000:2005))
panel <- panel[order(panel$firm, panel$year), ]
panel <- panel[runif(nrow(panel)) > 0.15, ]  # unbalanced
pole_shock <- rnorm(7 * 6)
panel$x <- rnorm(nrow(panel)) + 0.3 * panel$pole
panel$treat <- as.numeric(panel$cohort > 0 & panel$year >= panel$cohort)
panel$y <- 0.5 * panel$x + 1.0 * panel$treat + 0.1 * panel$firm +
  pole_shock[(panel$pole - 1) * 6 + panel$year - 1999] + rnorm(nrow(panel), sd = 1 + 0.5 * panel$treat)
panel$w <- round(runif(nrow(panel), 0.5, 2), 3)
write.csv(panel[, c("firm", "pole", "year", "cohort", "x", "treat", "y", "w")],
          "tests/methods/reference/simulated_panel.csv", row.names = FALSE)
terms <- c("x", "treat")
fit <- lm(y ~ x + treat + factor(firm) + factor(year), data = panel)
out <- rbind(out,
             cr2_rows(fit, panel$pole, "simulated_panel", "twfe_cluster_pole", terms),
             cr2_rows(fit, panel$firm, "simulated_panel", "twfe_cluster_firm", terms))
write.csv(out, "tests/methods/reference/clubsandwich_cr2.csv", row.names = FALSE)
print(out, digits = 12)
cat("R", R.version.string, "clubSandwich", as.character(packageVersion("clubSandwich")), "\n")
