{
  description = "An app with versioned inputs; Nix 2.8 reads this file as is";
  inputs = {
    greeting.url = "git+file://$REPOS/greeting";
    banner.url = "git+file://$REPOS/banner";
  };
  outputs = { self, greeting, banner }: {
    message = banner.text + " / " + greeting.text;
  };
}
